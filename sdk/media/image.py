"""`runlake.Image`: an image logged as a PNG (or JPEG, ...) file under media/images/.

>>> import numpy as np, runlake
>>> img = runlake.Image(np.zeros((4, 6, 3), dtype=np.uint8), caption="black")
>>> img.width, img.height, img.mode
(6, 4, 'RGB')

Accepts numpy arrays (uint8; floats in [0, 1] or [0, 255]; 2-D gray, HxWx1, RGB, RGBA),
PIL images, file paths, torch tensors (CHW) and other Images; `boxes`, `masks` and
`classes` are wandb's annotation dicts (sdk/media/annotations.py). Pillow is the `media`
extra and is imported only when an image is made.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from runlake.errors import InvalidValueError

from runlake.media.annotations import check_boxes, check_classes, check_masks
from runlake.media.pillow import encode, pil
from runlake.media.base import Media, MediaContext, read_file

# file_type -> (PIL format, suffix)
_FORMATS = {
    "png": ("PNG", ".png"), "jpg": ("JPEG", ".jpg"), "jpeg": ("JPEG", ".jpg"),
    "bmp": ("BMP", ".bmp"), "gif": ("GIF", ".gif"), "webp": ("WEBP", ".webp"),
}
_SUFFIX_OF_PIL = {"PNG": "png", "JPEG": "jpg", "BMP": "bmp", "GIF": "gif", "WEBP": "webp"}


class Image(Media):
    """An image; see the module docstring for what `data_or_path` may be."""

    _log_type = "image-file"
    _folder = "images"

    def __init__(
        self,
        data_or_path: Any,
        mode: str | None = None,
        caption: str | None = None,
        grouping: int | None = None,
        classes: Any = None,
        boxes: Any = None,
        masks: Any = None,
        file_type: str | None = None,
    ) -> None:
        self.boxes = None if boxes is None else check_boxes(boxes)
        self.classes = None if classes is None else check_classes(classes)
        self.caption = _optional_str("caption", caption)
        if grouping is not None and (isinstance(grouping, bool) or not isinstance(grouping, int)):
            raise InvalidValueError(f"Image grouping must be an int, got {type(grouping).__name__}")
        self.grouping = grouping
        self._file: bytes | None = None  # a file's own bytes, stored as they are
        self._pil: Any = None
        if file_type is not None and str(file_type).lower() not in _FORMATS:
            raise InvalidValueError(
                f"Image file_type {file_type!r} is not supported: use one of "
                f"{', '.join(sorted(_FORMATS))}")
        self.file_type = None if file_type is None else str(file_type).lower()
        if isinstance(data_or_path, Image):
            self._copy(data_or_path, mode)
        elif isinstance(data_or_path, (str, os.PathLike)):
            self._from_path(data_or_path, mode)
        elif type(data_or_path).__module__.startswith("PIL"):
            self._pil = _convert(data_or_path, mode)
        elif type(data_or_path).__module__.startswith("matplotlib") and hasattr(
            data_or_path, "savefig"
        ):
            self._from_figure(data_or_path, mode)
        else:
            self._pil = _convert(pil().fromarray(to_uint8(data_or_path)), mode)
        if self.file_type is None:
            self.file_type = self._own_type or "png"
        self.width, self.height = self._pil.size
        self.mode = self._pil.mode
        if masks is not None:
            self._masks = check_masks(masks, self.width, self.height)

    _masks: list[tuple[dict[str, Any], Any]] = []  # (fields, Mask) per group

    @property
    def image(self) -> Any:
        """The PIL image (wandb's `Image.image`)."""
        return self._pil

    @property
    def format(self) -> str:
        """The file format it is stored in, as a suffix without the dot: "png", "jpg", ..."""
        return _FORMATS[self.file_type or "png"][1][1:]

    _own_type: str | None = None  # the format of a file given by path

    def _copy(self, other: Image, mode: str | None) -> None:
        self._pil = _convert(other._pil, mode)
        if mode is None or mode == other.mode:
            self._file, self._own_type = other._file, other._own_type
        if self.caption is None:
            self.caption = other.caption
        if self.grouping is None:
            self.grouping = other.grouping
        self.boxes = other.boxes if self.boxes is None else self.boxes
        self.classes = other.classes if self.classes is None else self.classes
        self._masks = other._masks

    def _from_path(self, path: str | os.PathLike[str], mode: str | None) -> None:
        data = read_file("Image", path)
        import io

        try:
            img = pil().open(io.BytesIO(data))
            img.load()
        except (OSError, SyntaxError) as exc:  # PIL's errors for a file it cannot decode
            raise InvalidValueError(
                f"Image {os.fspath(path)!r} is not an image Pillow can read ({exc})") from None
        self._own_type = _SUFFIX_OF_PIL.get(img.format or "")
        self._pil = _convert(img, mode)
        if (mode is None or mode == img.mode) and self._own_type is not None:
            self._file = data

    def _from_figure(self, fig: Any, mode: str | None) -> None:
        """A matplotlib figure rendered to PNG (`fig.savefig`); matplotlib is the caller's."""
        import io

        buf = io.BytesIO()
        try:
            fig.savefig(buf, format="png")
        except Exception as exc:
            raise InvalidValueError(
                f"Image could not render the matplotlib figure ({type(exc).__name__}: {exc})"
            ) from exc
        img = pil().open(io.BytesIO(buf.getvalue()))
        img.load()
        self._pil = _convert(img, mode)
        if mode is None or mode == img.mode:
            self._file, self._own_type = buf.getvalue(), "png"

    def _encode(self, ctx: MediaContext) -> tuple[bytes | None, str, dict[str, Any]]:
        fmt, suffix = _FORMATS[self.file_type or "png"]
        if self._file is not None and _FORMATS[self._own_type or "png"][0] == fmt:
            data = self._file
        else:
            data = encode(self._pil, fmt)
        fields: dict[str, Any] = {
            "format": suffix[1:], "width": self.width, "height": self.height,
            "mode": self.mode, "caption": self.caption,
        }
        if self.grouping is not None:
            fields["grouping"] = self.grouping
        if self.boxes is not None:
            fields["boxes"] = self.boxes
        if self._masks:
            fields["masks"] = [{**f, **ctx.store(mask)} for f, mask in self._masks]
        if self.classes is not None:
            fields["classes"] = self.classes
        return data, suffix, fields

    def __repr__(self) -> str:
        return f"Image({self.width}x{self.height} {self.mode})"


def _convert(img: Any, mode: str | None) -> Any:
    if mode is None or mode == img.mode:
        return img
    modes = pil().MODES
    if not isinstance(mode, str) or mode not in modes:
        raise InvalidValueError(
            f"Image mode {mode!r} is not a PIL mode: use one of {', '.join(sorted(modes))}")
    return img.convert(mode)


def _optional_str(name: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(value)


def to_uint8(data: Any) -> np.ndarray:
    """An array-like image as uint8 pixels HxW, HxWx3 or HxWx4 (the rules in FORMAT.md).

    Floats with a negative value are rescaled from [min, max] to [0, 255] (as wandb does);
    otherwise values up to 1 are taken as [0, 1] and scaled by 255, and anything else as
    [0, 255]; values are rounded and clipped to [0, 255]. Torch tensors are CHW.
    """
    torch = type(data).__module__.startswith("torch")
    if torch:
        data = data.detach().cpu().numpy()
    try:
        array = np.asarray(data)
    except (ValueError, TypeError) as exc:
        raise InvalidValueError(f"Image can't read a {type(data).__name__} as pixels ({exc})") from None
    if array.dtype.kind not in "biuf":
        raise InvalidValueError(
            f"Image pixels must be numbers, got a {type(data).__name__} of dtype {array.dtype}")
    if array.ndim == 3 and (torch or array.shape[-1] not in (1, 3, 4)) and array.shape[0] in (1, 3, 4):
        array = np.moveaxis(array, 0, -1)  # CHW -> HWC (torch's layout)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (3, 4))) or 0 in array.shape:
        raise InvalidValueError(
            f"Image of shape {array.shape} can't be stored: use HxW (gray), HxWx1, HxWx3 (RGB) "
            "or HxWx4 (RGBA), or CxHxW for a torch tensor")
    return scale_to_uint8(array, "Image")


def scale_to_uint8(array: np.ndarray, what: str) -> np.ndarray:
    """Numeric pixels of any shape as uint8, by the rules of `to_uint8`."""
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if array.dtype.kind == "b":
        return array.astype(np.uint8) * 255
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise InvalidValueError(
            f"{what} pixels hold NaN or infinity: replace them (np.nan_to_num) before logging")
    values = array.astype(np.float64)
    lo, hi = float(values.min()), float(values.max())
    if lo < 0:
        values = (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)
        hi = 1.0
    if hi <= 1.0:
        values = values * 255.0
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)
