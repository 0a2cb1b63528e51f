"""`Run.to_html()`, `Run.display()` and `_repr_html_`: a self-contained HTML card of a run.

The card holds the run's name, path, state, config, summary and an inline SVG sparkline per
main metric (the numeric summary keys, at most `MAX_SPARKLINES`), read from the run's
durable history. No script, no external asset: it renders the same in Jupyter, in a saved
notebook and in an email. Every string that comes from the user (names, keys, values) goes
through `html.escape`; numbers are formatted by Python.
"""

from __future__ import annotations

import html
import json
import math
import sys
from collections.abc import Mapping
from typing import Any

from runlake.engine.meta import RunState
from runlake.errors import InvalidValueError

from runlake.tracking.config import Config
from runlake.tracking.handle import RunHandle
from runlake.tracking.summary import Summary

MAX_SPARKLINES = 8
MAX_POINTS = 120  # per sparkline: about one per pixel of its width, divided by two
MAX_ROWS = 50  # config / summary rows shown; the rest is counted
MAX_VALUE = 120  # characters of one value shown

_STYLE = (
    "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;"
    "border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;overflow:auto;"
    "box-sizing:border-box;color:#1f2328;background:#fff"
)


def check_size(height: Any, hidden: Any) -> tuple[int, bool]:
    if isinstance(height, bool) or not isinstance(height, int) or height <= 0:
        raise InvalidValueError(
            f"height must be a positive int of pixels, got {type(height).__name__} {height!r}"
        )
    if not isinstance(hidden, bool):
        raise InvalidValueError(f"hidden must be a bool, got {type(hidden).__name__} {hidden!r}")
    return height, hidden


def to_html(run: RunHandle, summary: Summary, config: Config, height: int = 420,
            hidden: bool = False) -> str:
    """The card of the run with this summary and config, `height` pixels high (scrolling
    inside), not shown when `hidden`."""
    height, hidden = check_size(height, hidden)
    values = summary.as_dict()
    state = _state(run)
    series = _series(run, _main_metrics(values))
    style = _STYLE + f";max-height:{height}px" + (";display:none" if hidden else "")
    e = html.escape
    parts = [
        f'<div class="runlake-run" style="{style}">',
        f'<div style="font-size:15px;font-weight:600">{e(str(run.name))} '
        f'<span style="{_badge(state)}">{e(state)}</span></div>',
        f'<div style="color:#656d76;margin-bottom:8px">{e(run.path)} &middot; step '
        f"{run.step}</div>",
    ]
    url = run.url()
    if url is not None:
        parts.append(f'<div><a href="{e(url)}" target="_blank" rel="noopener">{e(url)}</a></div>')
    if series:
        parts.append('<div style="display:flex;flex-wrap:wrap;gap:12px;margin:6px 0">')
        parts += [_sparkline(key, xs, ys) for key, (xs, ys) in series.items()]
        parts.append("</div>")
    parts.append(_table("Summary", _flat(values)))
    parts.append(_table("Config", _flat(config.as_dict())))
    parts.append("</div>")
    return "".join(parts)


def display(run: RunHandle, summary: Summary, config: Config, height: int = 420,
            hidden: bool = False) -> bool:
    """Show the card in a Jupyter notebook: True when shown, False outside a kernel."""
    check_size(height, hidden)
    shell = _kernel_shell()
    if shell is None:
        return False
    from IPython.display import HTML, display as show  # optional: loaded in a kernel already

    show(HTML(to_html(run, summary, config, height, hidden)))
    return True


def _kernel_shell() -> Any:
    """The IPython shell if this process is a Jupyter kernel, else None. IPython is looked up
    in sys.modules only: a plain script never imports it for this."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    shell = ipython.get_ipython()
    # A kernel's shell has a kernel; the terminal IPython shell does not.
    return shell if getattr(shell, "kernel", None) is not None else None


def _state(run: RunHandle) -> str:
    if run.disabled:
        return "disabled"
    meta = run.meta
    state = meta.get("state") if meta is not None else None
    return state or (RunState.FINISHED if run.finished else RunState.RUNNING)


def _badge(state: str) -> str:
    color = {"running": "#0969da", "finished": "#1a7f37", "failed": "#cf222e",
             "crashed": "#cf222e", "preempting": "#9a6700", "detached": "#8250df"}.get(state, "#656d76")
    return (f"font-size:11px;font-weight:500;color:#fff;background:{color};border-radius:10px;"
            "padding:1px 8px;margin-left:6px")


def _main_metrics(summary: Mapping[str, Any]) -> list[str]:
    """The summary keys with a number (or an aggregate of one), in summary order."""
    keys = []
    for key, value in summary.items():
        if isinstance(value, Mapping):
            value = next(iter(value.values()), None) if value else None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not key.startswith("_"):
            keys.append(key)
        if len(keys) == MAX_SPARKLINES:
            break
    return keys


def _series(run: RunHandle, keys: list[str]) -> dict[str, tuple[list[float], list[float]]]:
    """(steps, values) of each key, finite values only, at most MAX_POINTS each."""
    if not keys or run.paths is None:
        return {}
    from runlake.query.history import read_table  # the read side: never on init()'s path

    run.flush()  # what was logged is in the write-ahead log, which the reader reads
    table = read_table(run.paths, keys=keys)
    out = {}
    steps = table.column("_step").to_pylist()
    for key in keys:
        if key not in table.column_names:
            continue
        pairs = [(float(s), float(v)) for s, v in zip(steps, table.column(key).to_pylist())
                 if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
        if len(pairs) > MAX_POINTS:  # evenly spaced, keeping the last point
            stride = len(pairs) / MAX_POINTS
            pairs = [pairs[int(i * stride)] for i in range(MAX_POINTS - 1)] + [pairs[-1]]
        if pairs:
            out[key] = ([p[0] for p in pairs], [p[1] for p in pairs])
    return out


def _sparkline(key: str, xs: list[float], ys: list[float], w: int = 160, h: int = 36) -> str:
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    sx = (w - 2) / (x1 - x0) if x1 > x0 else 0.0
    sy = (h - 4) / (y1 - y0) if y1 > y0 else 0.0
    points = " ".join(
        f"{1 + (x - x0) * sx if sx else w / 2:.1f},{h - 2 - (y - y0) * sy if sy else h / 2:.1f}"
        for x, y in zip(xs, ys)
    )
    e = html.escape
    return (
        '<div style="min-width:170px">'
        f'<div style="color:#656d76;font-size:11px">{e(key)}</div>'
        f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
        f'aria-label="{e(key)}"><polyline fill="none" stroke="#0969da" stroke-width="1.5" '
        f'points="{points}"/></svg>'
        f'<div style="font-size:11px">{_num(ys[-1])} '
        f'<span style="color:#656d76">(min {_num(y0)}, max {_num(y1)})</span></div></div>'
    )


def _num(v: float) -> str:
    return f"{v:.4g}"


def _flat(d: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested config/summary dicts as dotted keys; an aggregate ({"max": ...}) stays one value."""
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        if isinstance(v, Mapping) and isinstance(v.get("_type"), str):  # a media reference
            out.append((f"{prefix}{k}", _Ref(v)))
        elif isinstance(v, Mapping) and v and not _aggregate(v):
            out += _flat(v, f"{prefix}{k}.")
        else:
            out.append((f"{prefix}{k}", v))
    return out


def _aggregate(v: Mapping[str, Any]) -> bool:
    return set(v) <= {"min", "max", "mean", "last", "best", "first"}


def _table(title: str, rows: list[tuple[str, Any]]) -> str:
    e = html.escape
    cells = [
        f'<tr><td style="padding:1px 12px 1px 0;color:#656d76;vertical-align:top">{e(k)}</td>'
        f'<td style="padding:1px 0;word-break:break-all">{e(_show(v))}</td></tr>'
        for k, v in rows[:MAX_ROWS]
    ]
    more = len(rows) - MAX_ROWS
    if more > 0:
        cells.append(f'<tr><td colspan="2" style="color:#656d76">and {more} more</td></tr>')
    if not cells:
        cells.append('<tr><td style="color:#656d76">(empty)</td></tr>')
    return (f'<div style="font-weight:600;margin-top:8px">{e(title)}</div>'
            f'<table style="border-collapse:collapse">{"".join(cells)}</table>')


class _Ref:
    """A media reference in the summary, shown as its type and file, not its fields."""

    def __init__(self, ref: Mapping[str, Any]) -> None:
        self.text = str(ref["_type"]) + (f" {ref['path']}" if isinstance(ref.get("path"), str) else "")


def _show(v: Any) -> str:
    if isinstance(v, _Ref):
        text = v.text
    elif isinstance(v, float):
        text = _num(v) if math.isfinite(v) else str(v)
    elif isinstance(v, str):
        text = v
    else:
        try:
            text = json.dumps(v, ensure_ascii=False, default=repr)
        except (TypeError, ValueError):
            text = repr(v)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 3] + "..."
