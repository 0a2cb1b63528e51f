"""How a logged media value becomes a file and a typed reference (docs/FORMAT.md, "Media").

`log()` finds the media values of a step (`values.py` keeps them as they are), and the run
asks its `MediaStore` for each one's reference once the step is known. Encoding runs here,
in the logging thread: it is CPU work (PNG, GIF, WAV...), and its bytes are queued for the
writer thread, which writes them before the rows that refer to them (engine/media_files.py).
Nothing here touches the disk.

A file is named `media/<folder>/<key>_<step>_<first 20 hex of its sha256><suffix>`, as wandb
names them. Bytes this run stored already are not stored again: the reference names the
first file that holds them.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Sequence
from typing import Any

from runlake.errors import InvalidValueError
from runlake.engine.media_files import FileQueue, check_relative
from runlake.engine.kinds import Ref

from runlake.media.base import Media

MEDIA_DIR = "media"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")
_SUFFIX = re.compile(r"(\.[a-z0-9]{1,12}){1,2}")
_KEY_CHARS = 80  # a file name is at most 128 characters with the step, hash and suffix


class MediaList:
    """Several media values logged under one key at one step (wandb's "images" style)."""

    __slots__ = ("items",)

    def __init__(self, items: Sequence[Media]) -> None:
        self.items = tuple(items)


def file_stem(key: str, step: int) -> str:
    """`<key>_<step>` made safe as a file name: characters other than letters, digits, `_`,
    `.` and `-` become `_` (a key may hold `/`, spaces, any Unicode)."""
    safe = _UNSAFE.sub("_", key)[:_KEY_CHARS].replace("..", "__")
    if safe[0] in ".-":
        safe = "_" + safe[1:]
    return f"{safe}_{step}"


class MediaStore:
    """Encodes a run's media values and queues their files; remembers what it stored."""

    def __init__(self, files: FileQueue) -> None:
        self.files = files
        self._lock = threading.Lock()
        self._stored: dict[tuple[str, str], str] = {}  # (sha256, folder) -> path

    def reference(self, key: str, step: int, value: Media | MediaList) -> Ref:
        """The reference stored in the history column of `key` (raises InvalidValueError or
        MissingExtraError naming the key when the value cannot be encoded)."""
        if isinstance(value, MediaList):
            items = [self._one(key, step, v) for v in value.items]
            images = all(getattr(v, "_log_type", "") == "image-file" for v in value.items)
            kind = "images/separated" if images else "media/list"
            return Ref({"_type": kind, "count": len(items), "items": items})
        return Ref(self._one(key, step, value))

    def _one(self, key: str, step: int, value: Media) -> dict[str, Any]:
        try:
            data, suffix, fields = value._encode(_Context(self, key, step))
        except (InvalidValueError, ImportError, NotImplementedError) as exc:
            if repr(key) in str(exc):
                raise
            raise type(exc)(f"log() key {key!r}: {exc}") from exc  # say which key
        except Exception as exc:  # a library's error deep in encoding: say which key
            raise InvalidValueError(
                f"log() key {key!r}: could not encode the {type(value).__name__} "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        ref: dict[str, Any] = {"_type": value._log_type}
        if data is not None:
            ref.update(self._store(key, step, value._folder, bytes(data), suffix))
        for name, field in fields.items():
            if name in ref:
                continue
            ref[name] = _plain(field)
        return ref

    def _store(self, key: str, step: int, folder: str, data: bytes, suffix: str) -> dict[str, Any]:
        if not _SUFFIX.fullmatch(suffix):
            raise InvalidValueError(f"log() key {key!r}: bad media file suffix {suffix!r}")
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            path = self._stored.get((digest, folder))
            if path is None:
                path = check_relative(
                    f"{MEDIA_DIR}/{folder}/{file_stem(key, step)}_{digest[:20]}{suffix}")
                self.files.put(path, data)
                self._stored[(digest, folder)] = path
        return {"path": path, "sha256": digest, "size": len(data)}


class _Context:
    """The MediaContext a value being encoded sees (sdk/media/base.py)."""

    __slots__ = ("_store", "key", "step")

    def __init__(self, store: MediaStore, key: str, step: int) -> None:
        self._store = store
        self.key = key
        self.step = step

    def store(self, value: Media) -> dict[str, Any]:
        if not isinstance(value, Media):
            raise InvalidValueError(
                f"log() key {self.key!r}: {type(value).__name__} is not a media value")
        return self._store._one(self.key, self.step, value)


def _plain(value: Any) -> Any:
    """A reference field as plain JSON-like Python (numpy scalars and arrays, tuples...)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    item = getattr(value, "item", None)  # numpy scalar
    if item is not None and getattr(value, "ndim", 1) == 0:
        return _plain(item())
    tolist = getattr(value, "tolist", None)
    if tolist is not None:
        return _plain(tolist())
    return str(value)


def encode_row(store: MediaStore, row: dict[str, object], step: int,
               errors: list[Exception]) -> None:
    """Replace the media values of a step's row by their references; a value that cannot be
    encoded is left out of the row and its error goes to `errors` (the rest is logged)."""
    bad = []
    for key, value in row.items():
        if isinstance(value, (Media, MediaList)):
            try:
                row[key] = store.reference(key, step, value)
            except (InvalidValueError, ImportError, NotImplementedError) as exc:
                errors.append(exc)
                bad.append(key)
    for key in bad:
        del row[key]
