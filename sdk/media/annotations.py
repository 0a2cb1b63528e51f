"""`Image(boxes=..., masks=..., classes=...)`: wandb's annotation dicts, checked and stored.

In the image's reference (docs/FORMAT.md, "Media"), with dynamic wandb keys (group names,
class ids, score names) turned into lists so the struct stays a fixed shape:

- `boxes`: [{group, class_labels: [{id, name}], box_data: [{minX, maxX, minY, maxY, domain,
  class_id, box_caption, scores: [{name, value}]}]}]; a box given as `middle`/`width`/`height`
  is stored by its corners.
- `masks`: [{group, path, sha256, size, class_labels}]: each mask is a PNG of its class ids
  (uint8, mode L) under media/images/mask/.
- `classes`: [{id, name}].

>>> import numpy as np, runlake
>>> img = runlake.Image(np.zeros((4, 4)), boxes={"pred": {"box_data": [
...     {"position": {"middle": [0.5, 0.5], "width": 0.5, "height": 0.5}, "class_id": 1}]}})
>>> img.boxes[0]["box_data"][0]["minX"]
0.25
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from runlake.errors import InvalidValueError

from runlake.media.base import Media, MediaContext
from runlake.media.pillow import encode, pil


def check_boxes(boxes: Any) -> list[dict[str, Any]]:
    groups = _groups("boxes", boxes)
    out = []
    for group, spec in groups:
        data = spec.get("box_data")
        if not isinstance(data, (list, tuple)):
            raise InvalidValueError(f"Image boxes[{group!r}] needs a 'box_data' list of boxes")
        out.append({"group": group, "class_labels": class_labels(f"boxes[{group!r}]", spec),
                    "box_data": [_box(group, i, b) for i, b in enumerate(data)]})
    return out


def _box(group: str, i: int, box: Any) -> dict[str, Any]:
    where = f"Image boxes[{group!r}] box {i}"
    if not isinstance(box, Mapping) or not isinstance(box.get("position"), Mapping):
        raise InvalidValueError(f"{where} needs a 'position' dict")
    pos = box["position"]
    if all(k in pos for k in ("minX", "maxX", "minY", "maxY")):
        corners = [_number(where, pos[k]) for k in ("minX", "maxX", "minY", "maxY")]
    elif "middle" in pos and "width" in pos and "height" in pos:
        middle = pos["middle"]
        if not isinstance(middle, (list, tuple)) or len(middle) != 2:
            raise InvalidValueError(f"{where}: 'middle' must be [x, y]")
        x, y = (_number(where, v) for v in middle)
        w, h = _number(where, pos["width"]), _number(where, pos["height"])
        corners = [x - w / 2, x + w / 2, y - h / 2, y + h / 2]
    else:
        raise InvalidValueError(
            f"{where}: the position needs minX, maxX, minY, maxY or middle, width, height")
    if corners[0] > corners[1] or corners[2] > corners[3]:
        raise InvalidValueError(f"{where}: min is greater than max")
    class_id = box.get("class_id")
    if isinstance(class_id, bool) or not isinstance(class_id, (int, np.integer)):
        raise InvalidValueError(f"{where} needs an int 'class_id'")
    domain = box.get("domain")
    if domain not in (None, "pixel"):
        raise InvalidValueError(f"{where}: domain must be 'pixel' or left out (relative 0..1)")
    scores = box.get("scores") or {}
    if not isinstance(scores, Mapping):
        raise InvalidValueError(f"{where}: 'scores' must be a dict of name to number")
    caption = box.get("box_caption")
    return {
        "minX": corners[0], "maxX": corners[1], "minY": corners[2], "maxY": corners[3],
        "domain": domain, "class_id": int(class_id),
        "box_caption": None if caption is None else str(caption),
        "scores": [{"name": str(k), "value": _number(where, v)} for k, v in scores.items()],
    }


def check_masks(masks: Any, width: int, height: int) -> list[tuple[dict[str, Any], Mask]]:
    """(the reference fields but the file's, the mask to store) per group."""
    out = []
    for group, spec in _groups("masks", masks):
        data = spec.get("mask_data")
        if data is None:
            raise InvalidValueError(f"Image masks[{group!r}] needs 'mask_data' (a 2-D int array)")
        if type(data).__module__.startswith("torch"):
            data = data.detach().cpu().numpy()
        array = np.asarray(data)
        if array.ndim != 2 or array.dtype.kind not in "biu":
            raise InvalidValueError(
                f"Image masks[{group!r}] mask_data must be a 2-D array of class ids, got "
                f"shape {array.shape} dtype {array.dtype}")
        if array.shape != (height, width):
            raise InvalidValueError(
                f"Image masks[{group!r}] is {array.shape[1]}x{array.shape[0]}, the image "
                f"{width}x{height}: a mask has the image's size")
        if array.size and (array.min() < 0 or array.max() > 255):
            raise InvalidValueError(f"Image masks[{group!r}] class ids must be in 0..255")
        fields = {"group": group, "class_labels": class_labels(f"masks[{group!r}]", spec)}
        out.append((fields, Mask(array.astype(np.uint8))))
    return out


def check_classes(classes: Any) -> list[dict[str, Any]]:
    items = getattr(classes, "_class_set", classes)  # wandb.Classes keeps them there
    if not isinstance(items, (list, tuple)):
        raise InvalidValueError("Image classes must be a list of {'id': int, 'name': str}")
    out = []
    for c in items:
        if not isinstance(c, Mapping) or isinstance(c.get("id"), bool) or not isinstance(
            c.get("id"), (int, np.integer)
        ):
            raise InvalidValueError(f"Image classes: {c!r} is not {{'id': int, 'name': str}}")
        out.append({"id": int(c["id"]), "name": str(c.get("name", c["id"]))})
    return out


def class_labels(where: str, spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    labels = spec.get("class_labels") or {}
    if not isinstance(labels, Mapping):
        raise InvalidValueError(f"Image {where} class_labels must be a dict of int id to name")
    out = []
    for k, v in labels.items():
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise InvalidValueError(f"Image {where} class_labels keys must be ints, got {k!r}")
        out.append({"id": int(k), "name": str(v)})
    return out


def _groups(name: str, value: Any) -> list[tuple[str, Mapping[str, Any]]]:
    if not isinstance(value, Mapping):
        raise InvalidValueError(
            f"Image {name} must be a dict of group name to {{...}}, got {type(value).__name__}")
    out = []
    for group, spec in value.items():
        if not isinstance(group, str) or not isinstance(spec, Mapping):
            raise InvalidValueError(f"Image {name}: {group!r} must be a str naming a dict")
        out.append((group, spec))
    return out


def _number(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not math.isfinite(
        float(value)
    ):
        raise InvalidValueError(f"{where}: {value!r} is not a finite number")
    return float(value)


class Mask(Media):
    """One segmentation mask: a PNG of class ids (stored through the image's context)."""

    _log_type = "mask"
    _folder = "images/mask"

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = ids

    def _encode(self, ctx: MediaContext) -> tuple[bytes | None, str, dict[str, Any]]:
        return encode(pil().fromarray(self.ids), "PNG"), ".png", {}
