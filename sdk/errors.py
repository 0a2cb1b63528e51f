"""The one error hierarchy of runlake.

Every error runlake raises on purpose derives from `Error`; the subclasses also inherit the
builtin a Python user would already catch, so `except ValueError` keeps working. Where wandb
names a case (wandb.errors, wandb.sdk.artifacts.exceptions) the class has wandb's name and the
builtin wandb raises for it among its bases, so code written to catch wandb's errors catches
runlake's.
"""

from __future__ import annotations


class Error(Exception):
    """Base class of every runlake error (wandb's `wandb.Error`)."""


class UsageError(Error, RuntimeError):
    """The API was used out of order, e.g. `log()` before `init()`."""


class InvalidSettingError(UsageError, ValueError):
    """A setting of `init()` or `Settings` has a value it cannot take, e.g. `mode="bogus"`
    (wandb's settings raise a ValueError)."""


class UnsupportedError(UsageError):
    """A feature wandb has that runlake (local-first, no server) does not."""


class CommError(Error, OSError):
    """Talking to something outside the process failed (wandb: the server; runlake: a remote
    reference such as an s3:// HEAD request)."""


class AuthenticationError(CommError):
    """Credentials were refused (wandb's name; runlake needs none for its own store)."""


class WaitTimeoutError(Error, TimeoutError):
    """A wait ended before what it waited for happened."""


class InvalidNameError(Error, ValueError):
    """A project, entity, run id or key is not a valid name."""


class InvalidKeyError(InvalidNameError, TypeError):
    """A key that is not a string at all, e.g. `log({1: 0.5})` (wandb raises TypeError)."""


class InvalidValueError(Error, TypeError, ValueError):
    """A value runlake cannot store or use: of a type it cannot store (so a TypeError), or out
    of range, like a negative step (so a ValueError); both `except`s catch it."""


class MediaFileNotFoundError(InvalidValueError, FileNotFoundError):
    """A media object (Image, Audio, Video, ...) was given a path that does not exist (wandb
    raises FileNotFoundError; runlake raised InvalidValueError before, which still catches it)."""


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


class ArtifactStatusError(Error, AttributeError):
    """An artifact was used in a state that does not allow it (wandb raises AttributeError)."""


class ArtifactNotLoggedError(ArtifactStatusError, UsageError):
    """An attribute or method of a logged artifact was used before `log_artifact()`."""


class ArtifactFinalizedError(ArtifactStatusError, UsageError):
    """An artifact was changed after `log_artifact()`: make a new Artifact instead."""




class FormatVersionError(Error, ValueError):
    """A store file (run.json, an artifact manifest) was written by a newer runlake, in a
    `format_version` this one cannot read: upgrade runlake to read it."""


class CorruptObjectError(Error, ValueError):
    """A stored or downloaded file does not have the digest its artifact's manifest records."""


class RunFileError(Error, ValueError):
    """A run file could not be restored or downloaded: the run named does not exist, or the
    target exists and `replace` was not given (wandb raises ValueError for both)."""
