"""Charts logged directly: matplotlib figures (stored as PNG) and Plotly figures (as JSON).

Both are recognised by their type's module name, so neither library is imported by
`import runlake`, nor by logging anything else.

>>> import runlake
>>> runlake.Plotly({"data": [{"type": "bar", "y": [1, 2]}]})._encode(None)[1]
'.plotly.json'
"""

from __future__ import annotations

import json
from typing import Any

from runlake.errors import InvalidValueError

from runlake.media.image import Image
from runlake.media.base import Media, MediaContext


class Plotly(Media):
    """A Plotly figure (or its dict form), stored as the figure's JSON."""

    _log_type = "plotly-file"
    _folder = "plotly"

    def __init__(self, val: Any) -> None:
        if type(val).__module__.startswith("matplotlib"):
            raise InvalidValueError(
                "runlake.Plotly takes a Plotly figure; log a matplotlib figure directly "
                "(run.log({'chart': fig})), which stores it as a PNG")
        to_json = getattr(val, "to_plotly_json", None)
        spec = to_json() if to_json is not None else val
        if not isinstance(spec, dict):
            raise InvalidValueError(
                f"runlake.Plotly takes a Plotly figure or its dict, got {type(val).__name__}")
        try:  # plotly's own encoder knows numpy arrays, dates, ...
            from plotly.utils import PlotlyJSONEncoder
        except ImportError:
            PlotlyJSONEncoder = None  # noqa: N806 - a plain dict needs no plotly
        try:
            self._json = json.dumps(spec, cls=PlotlyJSONEncoder, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidValueError(f"runlake.Plotly: the figure is not JSON-able ({exc})") from None

    def _encode(self, ctx: MediaContext) -> tuple[bytes | None, str, dict[str, Any]]:
        return self._json.encode("utf-8"), ".plotly.json", {}


def figure_media(key: str, value: Any) -> Media | None:
    """A matplotlib figure (or Axes: its figure) as an Image, a Plotly figure as Plotly;
    None for other objects of those libraries."""
    module = type(value).__module__
    if module.startswith("plotly") and hasattr(value, "to_plotly_json"):
        return Plotly(value)
    if module.startswith("matplotlib"):
        savefig = getattr(value, "savefig", None)
        if savefig is None:  # an Axes: its figure
            value = getattr(value, "figure", None)
            savefig = getattr(value, "savefig", None)
        if savefig is not None:
            return matplotlib_image(key, value)
    return None


def matplotlib_image(key: str, fig: Any) -> Image:
    """The figure rendered to PNG (fig.savefig) as an Image; an error names the key."""
    try:
        return Image(fig)
    except InvalidValueError as exc:
        raise InvalidValueError(f"log() key {key!r}: {exc}") from None
