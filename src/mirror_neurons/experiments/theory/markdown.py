"""The tables of both rounds' ``results.md``, as Markdown lines.

``markdown_table`` lays out any table; ``p_table`` is the proportion P per cell
with its Wilson interval, and ``s_table`` the mean game complexity S per obstacle
cap, which both rounds report the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

# A ``p_table``'s cell columns: column -> (the row's key, its format spec).
BY_DI = {"D": ("dependency", "g"), "I": ("veil", "g")}
BY_COMPLEXITY_M = {"rate_max": ("rate_max", "g"), "M": ("M", "")}
BY_WIDTH_DEPTH = {"width": ("width", ""), "depth": ("depth", "")}


def markdown_table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A Markdown table's lines: the header, its rule, one line per row of formatted cells."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def p_table(rows: Iterable[Mapping], by: Mapping[str, tuple[str, str]]) -> list[str]:
    """P per cell: the cell's columns ``by`` (``BY_DI``, ...), then k/n, P and its 95 % Wilson interval."""
    return markdown_table(
        [*by, "k/n", "P", "95 % Wilson"],
        (
            [
                *(format(r[key], spec) for key, spec in by.values()),
                f"{r['k']}/{r['n']}",
                f"{r['p']:.2f}",
                f"[{r['lo']:.2f}, {r['hi']:.2f}]",
            ]
            for r in rows
        ),
    )


def s_table(by_complexity: Mapping[str, Mapping], entropy_column: str) -> list[str]:
    """Mean S and mean S_H (headed ``entropy_column``) per obstacle cap rate_max."""
    return markdown_table(
        ["rate_max", "mean S (new boards per 1,000 recorded states)", entropy_column],
        ([str(k), f"{v['S_mean']:.0f}", f"{v['S_H_mean']:.3f}"] for k, v in by_complexity.items()),
    )
