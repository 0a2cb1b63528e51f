"""`CustomChart`: a Table plus a chart preset, what `runlake.plot.*` and `plot_table` return.

Logging one stores the table (Parquet, as any logged Table) and a JSON document naming the
preset, the field mapping and, for the presets runlake knows (wandb's names), a complete
Vega-Lite spec whose data source `wandb` is that table (docs/FORMAT.md, "Tables and charts").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from runlake.errors import InvalidValueError

from runlake.media.base import Media, MediaContext
from runlake.tables.table import Table

VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
DATA_NAME = "wandb"  # wandb's custom charts name their table's data source so


def _field(name: str) -> str:
    # Vega-Lite reads "." and "[]" in a field name as nested access unless escaped.
    return "".join("\\" + c if c in ".[]\\" else c for c in name)


def _axis_titles(strings: Mapping[str, Any], x: str, y: str) -> tuple[Any, Any]:
    return strings.get("x-axis-title", x), strings.get("y-axis-title", y)


def _curve(f: Mapping[str, str], s: Mapping[str, Any]) -> dict[str, Any]:
    x_title, y_title = _axis_titles(s, f["x"], f["y"])
    return {
        "mark": {"type": "line", "interpolate": "linear"},
        "encoding": {
            "x": {"field": _field(f["x"]), "type": "quantitative", "title": x_title,
                  "scale": {"domain": [0, 1]}},
            "y": {"field": _field(f["y"]), "type": "quantitative", "title": y_title,
                  "scale": {"domain": [0, 1]}},
            "color": {"field": _field(f["class"]), "type": "nominal"},
        },
    }


def _confusion(f: Mapping[str, str], s: Mapping[str, Any]) -> dict[str, Any]:
    x = {"field": _field(f["Predicted"]), "type": "nominal", "sort": None}
    y = {"field": _field(f["Actual"]), "type": "nominal", "sort": None}
    n = {"field": _field(f["nPredictions"]), "type": "quantitative"}
    return {"encoding": {"x": x, "y": y}, "layer": [
        {"mark": "rect", "encoding": {"color": n}},
        {"mark": "text", "encoding": {"text": n}},
    ]}


def _xy(mark: str) -> Callable[[Mapping[str, str], Mapping[str, Any]], dict[str, Any]]:
    def spec(f: Mapping[str, str], s: Mapping[str, Any]) -> dict[str, Any]:
        encoding: dict[str, Any] = {
            "x": {"field": _field(f["x"]), "type": "quantitative"},
            "y": {"field": _field(f["y"]), "type": "quantitative"},
        }
        if f.get("stroke"):
            encoding["color"] = {"field": _field(f["stroke"]), "type": "nominal"}
        return {"mark": mark, "encoding": encoding}

    return spec


def _bar(f: Mapping[str, str], s: Mapping[str, Any]) -> dict[str, Any]:
    return {"mark": "bar", "encoding": {
        "x": {"field": _field(f["label"]), "type": "nominal", "sort": None},
        "y": {"field": _field(f["value"]), "type": "quantitative"},
    }}


def _histogram(f: Mapping[str, str], s: Mapping[str, Any]) -> dict[str, Any]:
    return {"mark": "bar", "encoding": {
        "x": {"field": _field(f["value"]), "type": "quantitative", "bin": {"maxbins": 64}},
        "y": {"aggregate": "count", "type": "quantitative"},
    }}


def _line_series(f: Mapping[str, str], s: Mapping[str, Any]) -> dict[str, Any]:
    return {"mark": "line", "encoding": {
        "x": {"field": _field(f["step"]), "type": "quantitative", "title": s.get("xname", "x")},
        "y": {"field": _field(f["lineVal"]), "type": "quantitative"},
        "color": {"field": _field(f["lineKey"]), "type": "nominal"},
    }}


# wandb's preset names -> (the fields each needs, its Vega-Lite body)
PRESETS: dict[str, tuple[tuple[str, ...], Callable[..., dict[str, Any]]]] = {
    "wandb/area-under-curve/v0": (("x", "y", "class"), _curve),
    "wandb/confusion_matrix/v1": (("Actual", "Predicted", "nPredictions"), _confusion),
    "wandb/line/v0": (("x", "y"), _xy("line")),
    "wandb/scatter/v0": (("x", "y"), _xy("point")),
    "wandb/bar/v0": (("label", "value"), _bar),
    "wandb/histogram/v0": (("value",), _histogram),
    "wandb/lineseries/v0": (("step", "lineKey", "lineVal"), _line_series),
}


class CustomChart(Media):
    """A chart of a Table: `spec_name` (a preset), `fields` mapping the preset's fields to
    the table's columns, `string_fields` its constants (title, axis titles).

    >>> from runlake import Table
    >>> chart = CustomChart("wandb/scatter/v0", Table(columns=["a", "b"], data=[[1, 2]]),
    ...                     {"x": "a", "y": "b"}, {"title": "b by a"})
    >>> chart.vega_lite()["mark"]
    'point'
    """

    _log_type = "custom-chart"
    _folder = "charts"

    def __init__(self, spec_name: str, table: Table, fields: Mapping[str, Any],
                 string_fields: Mapping[str, Any] | None = None, split_table: bool = False) -> None:
        if not isinstance(spec_name, str) or not spec_name:
            raise InvalidValueError(f"vega_spec_name must be a non-empty string, got {spec_name!r}")
        if not isinstance(table, Table):
            raise InvalidValueError(
                f"a chart's data_table must be a runlake.Table, got {type(table).__name__}"
            )
        if not isinstance(fields, Mapping) or not all(isinstance(k, str) for k in fields):
            raise InvalidValueError(f"fields must be a dict of field name -> column, got {fields!r}")
        for field, column in fields.items():
            if column is not None and column not in table.columns:
                raise InvalidValueError(
                    f"field {field!r} maps to column {column!r}, which the table does not have "
                    f"(columns: {table.columns})"
                )
        needed = PRESETS.get(spec_name, ((), None))[0]
        missing = [f for f in needed if f not in fields and f != "stroke"]
        if missing:
            raise InvalidValueError(f"chart preset {spec_name!r} needs the fields {missing}")
        if string_fields is not None and not isinstance(string_fields, Mapping):
            raise InvalidValueError(f"string_fields must be a dict, got {string_fields!r}")
        self.spec_name = spec_name
        self.table = table
        self.fields = dict(fields)
        self.string_fields = dict(string_fields or {})
        self.split_table = bool(split_table)

    def vega_lite(self) -> dict[str, Any] | None:
        """The preset as a Vega-Lite spec over data source "wandb"; None for a preset name
        runlake does not know (a chart preset of a wandb server)."""
        preset = PRESETS.get(self.spec_name)
        if preset is None:
            return None
        body = preset[1]({k: v for k, v in self.fields.items() if v is not None}, self.string_fields)
        title = self.string_fields.get("title")
        return {"$schema": VEGA_LITE_SCHEMA, **({"title": title} if title else {}),
                "data": {"name": DATA_NAME}, **body}

    def _encode(self, ctx: MediaContext) -> tuple[bytes, str, dict[str, Any]]:
        table = ctx.store(self.table)
        document = {
            "spec_name": self.spec_name, "fields": self.fields,
            "string_fields": self.string_fields, "table": table.get("path"),
            "split_table": self.split_table, "vega_lite": self.vega_lite(),
        }
        data = json.dumps(document, sort_keys=True, default=str).encode()
        return data, ".chart.json", {
            "spec_name": self.spec_name, "table_path": table.get("path"),
            "table_sha256": table.get("sha256"), "nrows": table.get("nrows"),
        }

    def __repr__(self) -> str:
        return f"<runlake.CustomChart {self.spec_name} of {self.table!r}>"
