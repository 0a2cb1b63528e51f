"""The contract between values that are logged as files (images, tables, charts, ...) and the
run that stores them.

A `Media` value knows how to encode itself; the run decides where and when the bytes are
written (media/<folder>/ in the run's files directory, named by a hash of the bytes) and puts
a typed reference in the history column of the key. Encoding must not touch the store.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, Protocol

from runlake.errors import InvalidValueError, MediaFileNotFoundError


class MediaContext(Protocol):
    """What a value being encoded may ask of the run that logs it."""

    key: str  # the history key the value was logged under ("examples", "a.b")
    step: int  # the step it is logged at

    def store(self, value: Media) -> dict[str, Any]:
        """Store a nested media value (an image in a Table cell) and return its reference."""
        ...


class Media:
    """Base class of every value logged as a file or a typed reference."""

    _log_type: ClassVar[str]  # the reference's `_type`, as wandb names it ("image-file", ...)
    _folder: ClassVar[str]  # files go to media/<_folder>/ ("images", "tables", ...)

    def _encode(self, ctx: MediaContext) -> tuple[bytes | None, str, dict[str, Any]]:
        """(file bytes, or None for a value kept only in its reference; the file's suffix such
        as ".png"; the reference's own fields, JSON-able scalars and lists such as width,
        height, caption). Raise runlake.errors.InvalidValueError naming what is wrong."""
        raise NotImplementedError(f"{type(self).__name__} must implement _encode")


def read_file(kind: str, path: str | os.PathLike[str]) -> bytes:
    """A media file's bytes; a missing one is a FileNotFoundError (as in wandb), any other
    unreadable one an InvalidValueError, both naming the path."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise MediaFileNotFoundError(
            f"{kind}: no file at {os.fspath(path)!r}; check the path (relative paths start at "
            f"{os.getcwd()!r})") from None
    except OSError as exc:
        raise InvalidValueError(f"{kind} could not read {os.fspath(path)!r}: {exc}") from None
