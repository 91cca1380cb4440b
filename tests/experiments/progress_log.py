"""A recorder of ``progress(done, total, note)`` calls (``mirror_neurons.progress``) and what they must look like."""

from __future__ import annotations


class ProgressLog:
    """A ``Progress`` that keeps every call, to check that a stage counts its units up to their total."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, str]] = []

    def __call__(self, done: int, total: int, note: str = "") -> None:
        self.calls.append((done, total, note))

    def assert_counts_up_to(self, total: int) -> None:
        """One total throughout, ``done`` never going back and ending at it, and a note on every call."""
        assert self.calls, "progress was never called"
        assert {t for _, t, _ in self.calls} == {total}, self.calls
        dones = [d for d, _, _ in self.calls]
        assert all(isinstance(d, int) and 0 <= d <= total for d in dones), dones
        assert dones == sorted(dones) and dones[-1] == total, dones
        assert all(isinstance(note, str) and note for *_, note in self.calls), self.calls
