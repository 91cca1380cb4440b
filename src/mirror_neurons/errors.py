"""The project's exceptions: each says when it is raised.

Every error raised at a boundary (CLI option, config file, dataset, checkpoint)
is one of these, with a message that names the bad value and the fix. The CLI
turns them into a one-line message and exit code 2.
"""


class MirrorNeuronsError(Exception):
    """Base class: any error the user can fix by changing their input."""


class ConfigError(MirrorNeuronsError, ValueError):
    """Raised when a configuration value (option, TOML key, argument) is invalid."""


class GameError(MirrorNeuronsError, ValueError):
    """Raised when the game is driven wrongly: an unknown action, a step after the end."""


class DataError(MirrorNeuronsError):
    """Raised when a dataset file is missing, truncated, of the wrong schema or of another configuration."""


class CheckpointError(MirrorNeuronsError):
    """Raised when a checkpoint is missing, truncated, or disagrees with its metadata or architecture."""


class AnalysisError(MirrorNeuronsError):
    """Raised when an analysis cannot be computed as asked (for example, an empty scenario group)."""


class OptionalDependencyError(MirrorNeuronsError, ImportError):
    """Raised when an optional extra (such as Ray) is needed but not installed."""


class ExecutorError(MirrorNeuronsError):
    """Raised when a worker process dies under a task; what finished is on disk, and rerunning resumes."""


class BusyError(MirrorNeuronsError):
    """Raised when another process is writing the same output folder (its lock is held)."""


class TrainingError(MirrorNeuronsError):
    """Raised when training cannot go on (a NaN or infinite loss); the last good checkpoint stays on disk."""
