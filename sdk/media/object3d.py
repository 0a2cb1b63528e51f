"""`runlake.Object3D`: a 3-D model file (.obj, .gltf, .glb, ...) or a numpy point cloud.

>>> import numpy as np, runlake
>>> runlake.Object3D(np.zeros((5, 3))).points
5

A point cloud is N×3 (x, y, z), N×4 (x, y, z, category) or N×6 (x, y, z, r, g, b); it is
stored as a `.pts.json` file holding the list of points, as wandb stores it. A file object
is read through its name when it has one (wandb's Run reference passes `open("sample.glb")`
in text mode, which could not read binary glTF), else through `read()`.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from runlake.errors import InvalidValueError

from runlake.media.base import Media, MediaContext, read_file

FILE_TYPES = ("obj", "gltf", "glb", "babylon", "stl", "pts.json")


class Object3D(Media):
    """A 3-D object; see the module docstring for `data_or_path`."""

    _log_type = "object3D-file"
    _folder = "object3D"

    def __init__(self, data_or_path: Any, **kwargs: Any) -> None:
        if kwargs:
            raise InvalidValueError(
                f"Object3D got unexpected arguments {sorted(kwargs)}: pass a file, a path or "
                "a numpy point cloud")
        self.points: int | None = None
        if isinstance(data_or_path, (str, os.PathLike)):
            path = os.fspath(data_or_path)
            self.format = _file_type(path)
            self._data = _read(path)
        elif hasattr(data_or_path, "read"):
            self._data, self.format = _from_file_object(data_or_path)
        elif isinstance(data_or_path, dict):
            raise InvalidValueError(
                "Object3D of a dict (wandb's lidar scenes) is not supported: pass a numpy "
                "point cloud or a model file")
        else:
            cloud = _cloud(data_or_path)
            self.points = len(cloud)
            self.format = "pts.json"
            self._data = json.dumps(cloud.tolist(), separators=(",", ":")).encode("utf-8")

    def _encode(self, ctx: MediaContext) -> tuple[bytes | None, str, dict[str, Any]]:
        return self._data, f".{self.format}", {"format": self.format, "points": self.points}

    def __repr__(self) -> str:
        return f"Object3D({self.format})"


def _file_type(name: str) -> str:
    lower = os.path.basename(name).lower()
    for ext in FILE_TYPES:
        if lower.endswith("." + ext):
            return ext
    raise InvalidValueError(
        f"Object3D {name!r}: the file must be one of {', '.join('.' + e for e in FILE_TYPES)} "
        "(by extension)")


def _read(path: str) -> bytes:
    return read_file("Object3D", path)


def _from_file_object(f: Any) -> tuple[bytes, str]:
    name = getattr(f, "name", None)
    if not isinstance(name, (str, os.PathLike)):
        raise InvalidValueError(
            "Object3D of a file object needs one with a name (to know its type): open() a "
            "file, or pass its path")
    fmt = _file_type(os.fspath(name))
    if os.path.isfile(name):
        return _read(os.fspath(name)), fmt
    data = f.read()
    return (data.encode("utf-8") if isinstance(data, str) else bytes(data)), fmt


def _cloud(data: Any) -> np.ndarray:
    if type(data).__module__.startswith("torch"):
        data = data.detach().cpu().numpy()
    array = np.asarray(data)
    if array.ndim != 2 or array.shape[1] not in (3, 4, 6) or array.dtype.kind not in "biuf":
        raise InvalidValueError(
            f"Object3D point cloud of shape {array.shape} and dtype {array.dtype} can't be "
            "stored: use N×3 (x, y, z), N×4 (with a category) or N×6 (with r, g, b) numbers")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise InvalidValueError("Object3D point cloud holds NaN or infinity: drop those points")
    if array.shape[1] == 6 and (array[:, 3:].min(initial=0) < 0 or array[:, 3:].max(initial=0) > 255):
        raise InvalidValueError("Object3D point colours (columns 4-6) must be in 0..255")
    return array
