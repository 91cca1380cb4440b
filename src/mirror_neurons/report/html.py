"""The report as one self-contained HTML file, laid out by a Jinja2 template.

``render_report(inputs) -> str`` turns ``ReportInputs`` into HTML: every
figure is an inline base64 PNG, the CSS is inlined, nothing is fetched from the
network, so the file opens from disk anywhere. ``write_report(run_dir)``
collects the inputs from a run folder and writes ``RUNDIR/report/report.html``
atomically; it is the only function of the report package that writes files.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from importlib import resources
from pathlib import Path

import jinja2

from mirror_neurons import __version__, atomic
from mirror_neurons.experiments.planted import load_summary
from mirror_neurons.experiments.rl import load_summary as load_rl_summary
from mirror_neurons.experiments.theory import load_section as load_theory_section
from mirror_neurons.progress import Progress
from mirror_neurons.report.collect import REPORT_STEPS, collect
from mirror_neurons.report.inputs import ReportInputs
from mirror_neurons.report.sections import Section, Table, build_sections, figure, section_planted, section_rl
from mirror_neurons.report.tables import TABLES_DIR, write_tables
from mirror_neurons.tables import PLANTED_SUMMARY, RL_SUMMARY

REPORT_FILE = "report.html"
VERDICT_CLASSES = {
    "reproduced": "reproduced",
    "not reproduced": "not-reproduced",
    "not testable at this scale": "not-testable",
    "not established": "not-testable",
    "established": "established",
}


def _environment() -> jinja2.Environment:
    templates = resources.files("mirror_neurons.report").joinpath("templates")
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: templates.joinpath(name).read_text()),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_report(inputs: ReportInputs, created: str | None = None, sections: list[Section] | None = None) -> str:
    """The report's HTML text (``sections``: already built from ``inputs``, to draw the figures once)."""
    env = _environment()
    return env.get_template("report.html.j2").render(
        title=inputs.title,
        run_dir=inputs.run_dir,
        preset=inputs.preset,
        created=created or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
        facts=inputs.facts,
        notes=inputs.notes,
        answer=inputs.answer,
        sections=sections if sections is not None else build_sections(inputs),
        css=env.loader.get_source(env, "report.css")[0],
        verdict_classes=VERDICT_CLASSES,
    )


def write_report(
    run_dir: str | Path,
    out: str | Path | None = None,
    data_dir: str | Path | None = None,
    progress: Progress | None = None,
    figures_dir: str | Path | None = None,
    theory_dir: str | Path | None = None,
    planted_dir: str | Path | None = None,
    rl_dir: str | Path | None = None,
    **options,
) -> Path:
    """Collect a run's results and write its report; returns the HTML file's path.

    ``out`` defaults to ``RUNDIR/report/report.html``. Every figure is also
    written beside it, ``figures/<name>.png`` (print resolution) and
    ``figures/<name>.svg``, and the page links both under each figure; every
    table as CSV and all of them as markdown, ``tables/`` (``report.tables``).
    ``progress(done, 3, note)`` is called between steps when given. ``figures_dir``,
    when given, also receives every figure (PNG and SVG) named after its section
    and title (for docs).
    ``theory_dir``, when given, is a finished ``experiment theory`` folder whose
    results become one more section at the end. ``planted_dir`` is a finished
    ``experiment planted`` folder (default ``RUNDIR/planted`` when it holds a
    summary): its detection and false-positive figures become a section before it. ``rl_dir`` is a
    finished ``experiment rl`` folder (default ``RUNDIR/rl`` when it holds a summary): the agents'
    behaviour, mirror index and hypotheses become a section after the planted one.
    ``options`` go to ``collect`` (``threshold``); the behaviour games are the analysis's (``AnalysisConfig``).
    """
    run_dir = Path(run_dir)
    inputs = collect(run_dir, data_dir=data_dir, progress=progress, **options)
    out = Path(out) if out is not None else run_dir / "report" / REPORT_FILE
    if progress:
        progress(2, REPORT_STEPS, "drawing figures and writing the page")
    sections = build_sections(inputs)
    planted = Path(planted_dir) if planted_dir is not None else run_dir / "planted"
    if planted_dir is not None or (planted / PLANTED_SUMMARY.file).is_file():
        sections.append(section_planted(load_summary(planted), number=len(sections) + 1))
    rl = Path(rl_dir) if rl_dir is not None else run_dir / "rl"
    if rl_dir is not None or (rl / RL_SUMMARY.file).is_file():
        sections.append(section_rl(load_rl_summary(rl), number=len(sections) + 1))
    if theory_dir is not None:
        sections.append(section_from_content(load_theory_section(theory_dir, number=len(sections) + 1)))
    name_figures(sections)
    write_figures(sections, out.parent / FIGURES_DIR)
    write_tables(
        sections, out.parent / TABLES_DIR
    )  # every table as CSV and markdown, beside the page (report/tables.py)
    atomic.write_text(out, render_report(inputs, sections=sections))
    if figures_dir is not None:
        write_figures(sections, Path(figures_dir))
    return out


def section_from_content(content) -> Section:
    """Lay out an experiment's section content (``experiments.theory.SectionContent``: id, title, intro,
    figures with ``title``/``fig``/``reading``, tables with ``caption``/``columns``/``rows``, notes).

    The report's one entry for an experiment's results: experiments describe what to show and never
    import the report (docs/design.md).
    """
    return Section(
        content.id,
        content.title,
        content.intro,
        figures=[figure(f.fig, f.title, f.reading) for f in content.figures],
        tables=[Table(t.caption, list(t.columns), [list(r) for r in t.rows]) for t in content.tables],
        notes=list(content.notes),
    )


def write_theory_report(
    theory_dir: str | Path, out: str | Path | None = None, *, title: str = "Testing the theory of emergence"
) -> Path:
    """A finished ``experiment theory`` folder's own page (default ``THEORY_DIR/report.html``), in the report's template."""
    theory_dir = Path(theory_dir)
    content = load_theory_section(theory_dir)
    env = _environment()
    html = env.get_template("report.html.j2").render(
        title=title,
        run_dir=str(theory_dir),
        preset="theory",
        created=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
        facts=content.facts,
        notes=[],
        sections=[section_from_content(content)],
        css=env.loader.get_source(env, "report.css")[0],
        verdict_classes=content.verdict_classes,
    )
    out = Path(out) if out is not None else theory_dir / REPORT_FILE
    atomic.write_text(out, html)
    return out


FIGURES_DIR = "figures"
"""The folder beside the report's HTML file that holds every figure as PNG and SVG."""


def name_figures(sections: list[Section]) -> None:
    """Give each figure its file stem, ``<section number>-<n>-<title slug>`` (names sort in report order)."""
    for number, s in enumerate(sections, 1):
        for i, f in enumerate(s.figures, 1):
            slug = re.sub(r"[^a-z0-9]+", "-", f.title.lower()).strip("-")[:40].strip("-")
            f.file = f"{number}-{i}-{slug}"


def write_figures(sections: list[Section], folder: Path) -> list[Path]:
    """Each figure as ``folder/<stem>.png`` and, when drawn, ``folder/<stem>.svg`` (``name_figures``)."""
    if any(not f.file for s in sections for f in s.figures):
        name_figures(sections)
    paths = []
    for s in sections:
        for f in s.figures:
            path = folder / f"{f.file}.png"
            atomic.write_bytes(path, base64.b64decode(f.png_base64))
            paths.append(path)
            if f.svg:
                atomic.write_text(folder / f"{f.file}.svg", f.svg)
                paths.append(folder / f"{f.file}.svg")
    return paths
