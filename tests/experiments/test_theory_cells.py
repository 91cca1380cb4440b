"""The theory rounds' cells counted by ``progress(done, total, note)``, here and on an executor, without training."""

import pytest

from mirror_neurons.distributed.executors import LocalExecutor
from mirror_neurons.experiments.theory import TheoryGrid
from mirror_neurons.experiments.theory.run import cell_steps, run_cells

from .progress_log import ProgressLog

GRID = TheoryGrid.preset("tiny")


def cell_without_work(grid, cell, index, folder, progress, threads):
    """A ``run_cell`` that only says its steps, as round one's and round two's do."""
    say = cell_steps(progress, grid, index)
    say(f"{cell.name}: data")
    say(f"{cell.name}: training")
    return [cell.name]


@pytest.mark.parametrize("executor", [None, LocalExecutor()], ids=["here", "executor"])
def test_progress_counts_finished_cells_up_to_the_grid(tmp_path, executor):
    log = ProgressLog()
    per_cell = run_cells(GRID, tmp_path, cell_without_work, progress=log, executor=executor)
    names = [cell.name for cell in GRID.cells()]
    assert per_cell == [[name] for name in names]
    log.assert_counts_up_to(len(names))
    complete = [(done, note) for done, _, note in log.calls if note.endswith(": complete")]
    assert complete == [(i + 1, f"{name}: complete") for i, name in enumerate(names)]
    if executor is None:  # here, each step's note comes with the cells done before it
        assert (0, len(names), f"{names[0]}: data") in log.calls
        assert (1, len(names), f"{names[1]}: training") in log.calls


def test_without_progress_the_cells_run_silently(tmp_path):
    assert run_cells(GRID, tmp_path, cell_without_work) == [[cell.name] for cell in GRID.cells()]
