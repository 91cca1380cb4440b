"""The one progress-callback signature: ``progress(done, total, note)``.

A stage that shows how far it has got takes ``progress: Progress | None`` and
calls it as work advances: ``done`` of ``total`` units of its own (games
played, model-epochs trained, checkpoints analysed, report steps, an
experiment's cells, models or agents finished) and a short ``note`` saying what
it is doing now (a step's name, the model and epoch last trained, the checkpoint
last analysed). ``study.StageProgress`` draws it as one bar per stage; the CLI's
commands draw their own, the experiments' with ``StageProgress`` too. Richer,
stage-specific streams are separate hooks with their own names, such as the
trainer's ``on_epoch`` (one dict per model-epoch, for the live sweep display and
TensorBoard) and PPO's ``on_iteration`` (one dict per update).
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """``progress(done, total, note="")``: ``done`` of ``total`` units finished; ``note`` says what is running."""

    def __call__(self, done: int, total: int, note: str = "") -> None: ...
