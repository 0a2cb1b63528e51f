"""`runlake.Audio`: sound logged as a WAV file, written with the standard library's `wave`.

>>> import numpy as np, runlake
>>> a = runlake.Audio(np.zeros(8000), sample_rate=16000)
>>> a.duration, a.channels
(0.5, 1)

numpy input is (samples,) or (samples, channels). Floats are PCM in [-1, 1] (values beyond
are clipped) and are stored as 16-bit samples; int16, int32 and uint8 arrays keep their width.
A path to a .wav, .mp3, .flac or .ogg file is stored as it is.
"""

from __future__ import annotations

import io
import os
import wave
from typing import Any

import numpy as np

from runlake.errors import InvalidValueError

from runlake.media.base import Media, MediaContext, read_file

FILE_TYPES = ("wav", "mp3", "flac", "ogg")
_WIDTH = {np.dtype(np.uint8): 1, np.dtype(np.int16): 2, np.dtype(np.int32): 4}


class Audio(Media):
    """An audio clip; see the module docstring for `data_or_path`."""

    _log_type = "audio-file"
    _folder = "audio"

    def __init__(self, data_or_path: Any, sample_rate: int | None = None,
                 caption: str | None = None) -> None:
        self.caption = None if caption is None else str(caption)
        if sample_rate is not None and (
            isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer))
            or not 0 < sample_rate <= 2**31 - 1
        ):
            raise InvalidValueError(f"Audio sample_rate must be a positive int, got {sample_rate!r}")
        self.sample_rate = None if sample_rate is None else int(sample_rate)
        if isinstance(data_or_path, (str, os.PathLike)):
            self._from_path(os.fspath(data_or_path))
            return
        if self.sample_rate is None:
            raise InvalidValueError(
                "Audio of raw samples needs sample_rate= (samples per second)")
        self._samples = _samples(data_or_path)
        self.format = "wav"
        self.channels = 1 if self._samples.ndim == 1 else self._samples.shape[1]
        self.duration = len(self._samples) / self.sample_rate
        self._file: bytes | None = None

    def _from_path(self, path: str) -> None:
        ext = path.rsplit(".", 1)[-1].lower() if "." in os.path.basename(path) else ""
        if ext not in FILE_TYPES:
            raise InvalidValueError(
                f"Audio {path!r}: the file must be one of {', '.join(FILE_TYPES)} (by extension)")
        self._file = read_file("Audio", path)
        self.format = ext
        self.channels = self.duration = None
        if ext == "wav":  # the header says what the file holds
            try:
                with wave.open(io.BytesIO(self._file)) as w:
                    self.sample_rate = w.getframerate()
                    self.channels = w.getnchannels()
                    self.duration = w.getnframes() / w.getframerate()
            except (wave.Error, EOFError) as exc:
                raise InvalidValueError(f"Audio {path!r} is not a readable WAV file ({exc})") from None

    def _encode(self, ctx: MediaContext) -> tuple[bytes | None, str, dict[str, Any]]:
        data = self._file if self._file is not None else wav_bytes(self._samples, self.sample_rate)
        fields = {"format": self.format, "sample_rate": self.sample_rate,
                  "duration": self.duration, "channels": self.channels, "caption": self.caption}
        return data, f".{self.format}", fields

    def __repr__(self) -> str:
        return f"Audio({self.format}, {self.duration} s)"


def _samples(data: Any) -> np.ndarray:
    if type(data).__module__.startswith("torch"):
        data = data.detach().cpu().numpy()
    array = np.asarray(data)
    if array.ndim not in (1, 2) or array.size == 0:
        raise InvalidValueError(
            f"Audio of shape {array.shape} can't be stored: use (samples,) or (samples, channels)")
    if array.dtype in _WIDTH:
        return array
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise InvalidValueError("Audio samples hold NaN or infinity: replace them first")
        return np.rint(np.clip(array, -1.0, 1.0) * 32767).astype(np.int16)
    if array.dtype.kind in "iu":  # other integer widths: as 32-bit if they fit
        if array.min() < -(2**31) or array.max() >= 2**31:
            raise InvalidValueError(f"Audio samples of dtype {array.dtype} exceed 32 bits")
        return array.astype(np.int32)
    raise InvalidValueError(f"Audio samples must be numbers, got dtype {array.dtype}")


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """PCM samples (uint8, int16 or int32; mono or (samples, channels)) as a WAV file."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1 if samples.ndim == 1 else samples.shape[1])
        w.setsampwidth(_WIDTH[samples.dtype])
        w.setframerate(sample_rate)
        w.writeframes(np.ascontiguousarray(samples, dtype=samples.dtype.newbyteorder("<")).tobytes())
    return buf.getvalue()
