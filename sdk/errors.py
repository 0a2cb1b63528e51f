"""The one error hierarchy of runlake.

Every error runlake raises on purpose derives from `Error`; the subclasses also inherit the
builtin a Python user would already catch, so `except ValueError` keeps working.
"""

from __future__ import annotations


class Error(Exception):
    """Base class of every runlake error (wandb's `wandb.Error`)."""


class UsageError(Error, RuntimeError):
    """The API was used out of order, e.g. `log()` before `init()`."""


class InvalidNameError(Error, ValueError):
    """A project, entity, run id or key is not a valid name."""


class InvalidValueError(Error, TypeError, ValueError):
    """A value runlake cannot store or use: of a type it cannot store (so a TypeError), or out
    of range, like a negative step (so a ValueError); both `except`s catch it."""


class ConfigError(Error, ValueError):
    """A config change was refused (e.g. changing a value without allow_val_change)."""


class RunNotFoundError(Error, LookupError):
    """A run, project or file that was looked up does not exist."""


class RunExistsError(Error, FileExistsError):
    """A run with this id already exists where a new one was asked for."""


class RunInUseError(Error, RuntimeError):
    """The run is being written by a live process; one process writes a run at a time."""


class MissingExtraError(Error, ImportError):
    """An optional dependency is needed; the message names the extra to install."""


class ResumeError(Error, ValueError):
    """`init(resume=..., resume_from=..., fork_from=...)` asked for something the run can't
    give: a malformed "<run_id>?_step=<N>", or a step the run never reached."""


class ArtifactNotFoundError(RunNotFoundError):
    """An artifact, version or alias that was looked up does not exist."""


class FormatVersionError(Error, ValueError):
    """A store file (run.json, an artifact manifest) was written by a newer runlake, in a
    `format_version` this one cannot read: upgrade runlake to read it."""


class CorruptObjectError(Error, ValueError):
    """A stored or downloaded file does not have the digest its artifact's manifest records."""


class RunFileError(Error, ValueError):
    """A run file could not be restored or downloaded: the run named does not exist, or the
    target exists and `replace` was not given (wandb raises ValueError for both)."""
