"""Pillow, the `media` extra: imported on first use, with an error that names the extra, and
the encoding of a PIL image that Image, Video frames and annotation masks share."""

from __future__ import annotations

import io
from typing import Any

from runlake.errors import MissingExtraError


def pil() -> Any:
    """PIL.Image, or a MissingExtraError naming the extra."""
    try:
        from PIL import Image as PILImage
    except ImportError:
        raise MissingExtraError(
            "runlake.Image needs Pillow: pip install 'runlake[media]'") from None
    return PILImage


def encode(img: Any, fmt: str) -> bytes:
    """A PIL image's bytes in format `fmt` (JPEG has no alpha: RGBA is flattened to RGB)."""
    if fmt == "JPEG" and img.mode not in ("L", "RGB", "CMYK"):
        img = img.convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()
