"""`runlake.Video`: frames logged as a GIF (Pillow), or mp4/webm/ogg (the `video` extra).

>>> import numpy as np, runlake
>>> v = runlake.Video(np.zeros((2, 3, 8, 8), dtype=np.uint8), fps=2)
>>> v.frames, v.width, v.height, v.format
(2, 8, 8, 'gif')

numpy input is (time, channel, height, width), or (batch, time, channel, height, width),
whose batch is tiled into a grid (as wandb does); channels are 1 (gray), 3 (RGB) or 4
(RGBA; the alpha is dropped). Pixels follow Image's rules (uint8, or floats in [0, 1] or
[0, 255]). A path to a gif/mp4/webm/ogg file, or a binary file object (with `format=` if
its name does not say), is stored as it is.
"""

from __future__ import annotations

import io
import os
import subprocess
from typing import Any

import numpy as np

from runlake.errors import InvalidValueError, MissingExtraError

from runlake.media.image import scale_to_uint8
from runlake.media.pillow import pil
from runlake.media.base import Media, MediaContext, read_file

FORMATS = ("gif", "mp4", "webm", "ogg")
_CODEC = {"mp4": "libx264", "webm": "libvpx", "ogg": "libtheora"}


class Video(Media):
    """A video; see the module docstring for `data_or_path`."""

    _log_type = "video-file"
    _folder = "videos"

    def __init__(self, data_or_path: Any, caption: str | None = None, fps: int = 4,
                 format: str | None = None) -> None:  # noqa: A002 - wandb's name
        if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps <= 1000:
            raise InvalidValueError(f"Video fps must be a number in (0, 1000], got {fps!r}")
        fmt = None if format is None else str(format).lower()
        if fmt is not None and fmt not in FORMATS:
            raise InvalidValueError(
                f"Video format {format!r} is not supported: use one of {', '.join(FORMATS)}")
        self.caption = None if caption is None else str(caption)
        self.fps = fps
        self._file: bytes | None = None
        self._frames: np.ndarray | None = None
        if isinstance(data_or_path, (str, os.PathLike)):
            self._from_path(os.fspath(data_or_path), fmt)
        elif hasattr(data_or_path, "read"):  # a file object (BytesIO, open(..., "rb"))
            self._from_file(data_or_path, fmt)
        else:
            self._frames = _frames(data_or_path)
            self.format = fmt or "gif"
            if self.format != "gif":
                _imageio_ffmpeg()  # fail now, at construction, if the extra is missing
            self.frames, self.height, self.width = self._frames.shape[:3]

    def _from_path(self, path: str, fmt: str | None) -> None:
        ext = path.rsplit(".", 1)[-1].lower() if "." in os.path.basename(path) else ""
        if ext not in FORMATS:
            raise InvalidValueError(
                f"Video {path!r}: the file must be one of {', '.join(FORMATS)} (by extension)")
        if fmt is not None and fmt != ext:
            raise InvalidValueError(f"Video {path!r} is a .{ext} file, not format={fmt!r}")
        self._file = read_file("Video", path)
        self.format = ext
        self.frames = self.width = self.height = None

    def _from_file(self, f: Any, fmt: str | None) -> None:
        name = getattr(f, "name", None)
        ext = os.fspath(name).rsplit(".", 1)[-1].lower() if isinstance(name, (str, os.PathLike)) else None
        fmt = fmt or (ext if ext in FORMATS else None)
        if fmt is None:
            raise InvalidValueError(
                "Video of a file object needs format= (gif, mp4, webm or ogg) unless its name says")
        data = f.read()
        if not isinstance(data, bytes):
            raise InvalidValueError("Video of a file object needs one opened in binary mode ('rb')")
        self._file, self.format = data, fmt
        self.frames = self.width = self.height = None

    def _encode(self, ctx: MediaContext) -> tuple[bytes | None, str, dict[str, Any]]:
        data = self._file
        if data is None:
            assert self._frames is not None
            data = _gif(self._frames, self.fps) if self.format == "gif" else _ffmpeg(
                self._frames, self.fps, self.format)
        fields = {"format": self.format, "fps": self.fps, "caption": self.caption,
                  "width": self.width, "height": self.height, "frames": self.frames}
        return data, f".{self.format}", fields

    def __repr__(self) -> str:
        return f"Video({self.format}, {self.frames} frames)"


def _frames(data: Any) -> np.ndarray:
    """Frames as uint8 (time, height, width, 1 or 3)."""
    if type(data).__module__.startswith("torch"):
        data = data.detach().cpu().numpy()
    array = np.asarray(data)
    if array.dtype.kind not in "biuf":
        raise InvalidValueError(f"Video frames must be numbers, got dtype {array.dtype}")
    if array.ndim == 5:
        array = _grid(array)
    if array.ndim != 4 or array.shape[1] not in (1, 3, 4) or 0 in array.shape:
        raise InvalidValueError(
            f"Video of shape {array.shape} can't be stored: use (time, channel, height, width) "
            "or (batch, time, channel, height, width) with 1, 3 or 4 channels")
    array = np.moveaxis(array[:, :3], 1, -1)  # THWC, alpha dropped
    return np.ascontiguousarray(scale_to_uint8(array, "Video"))


def _grid(batch: np.ndarray) -> np.ndarray:
    """(b, t, c, h, w) -> (t, c, rows*h, cols*w): rows a power of two near sqrt(b)."""
    b, t, c, h, w = batch.shape
    rows = 2 ** ((b.bit_length() - 1) // 2) if b else 1
    cols = -(-b // rows)
    padded = np.zeros((rows * cols, t, c, h, w), dtype=batch.dtype)
    padded[:b] = batch
    grid = padded.reshape(rows, cols, t, c, h, w).transpose(2, 3, 0, 4, 1, 5)
    return grid.reshape(t, c, rows * h, cols * w)


def _gif(frames: np.ndarray, fps: float) -> bytes:
    Image = pil()  # noqa: N806 - the PIL module's name
    gray = frames.shape[-1] == 1
    images = [Image.fromarray(f[..., 0] if gray else f) for f in frames]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:],
                   duration=max(int(round(1000 / fps)), 10), loop=0)
    return buf.getvalue()


def _imageio_ffmpeg() -> Any:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise MissingExtraError(
            "runlake.Video needs imageio for mp4, webm and ogg (gif needs only Pillow): "
            "pip install 'runlake[video]'") from None
    return imageio_ffmpeg


def _ffmpeg(frames: np.ndarray, fps: float, fmt: str) -> bytes:
    """Encode with the ffmpeg that imageio-ffmpeg ships, frames in and the file out through
    pipes (no disk I/O; mp4 is written fragmented, which needs no seekable output)."""
    ffmpeg = _imageio_ffmpeg()
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    t, h, w, _ = frames.shape
    if h % 2 or w % 2:  # yuv420p needs even sizes: pad with black
        frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)))
    cmd = [
        ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{frames.shape[2]}x{frames.shape[1]}",
        "-r", str(fps), "-i", "-", "-c:v", _CODEC[fmt], "-pix_fmt", "yuv420p",
        *(["-movflags", "frag_keyframe+empty_moov"] if fmt == "mp4" else []), "-f", fmt, "-",
    ]
    done = subprocess.run(cmd, input=np.ascontiguousarray(frames).tobytes(), capture_output=True)
    if done.returncode != 0 or not done.stdout:
        raise InvalidValueError(
            f"Video: ffmpeg could not encode {fmt} ({done.stderr.decode(errors='replace')[-300:]})")
    return done.stdout
