"""wandb's MongoDB-style run filters and order strings, as parameterised DuckDB SQL.

`where_sql(filters)` gives a boolean expression and `order_sql(order)` an ORDER BY list,
each with its parameters, over a relation of runs with the columns of the run index
(`id`, `entity`, `project`, `name`, `display_name`, `state`, `"group"`, `job_type`, `tags`,
`notes`, `created_at`, `heartbeat_at`, `config_json`, `summary_json`).

The contract: no user value, key or path is ever written into the SQL text. Every value and
every JSON path is a `?` parameter; column names come only from the fixed table below; all
other SQL text is constant. A filter this module cannot translate faithfully raises
`FilterError` (an unknown operator or field never silently matches nothing).

Fields:

| filter field | SQL |
| --- | --- |
| `id`, `entity`, `project`, `name`, `display_name`, `state`, `group`, `job_type`, `notes` | the column |
| `created_at`/`createdAt`, `heartbeat_at`/`heartbeatAt` | `epoch_us(column)`, so UTC whether the column is TIMESTAMP or TIMESTAMPTZ |
| `tags` | true if any tag matches (`$ne`/`$nin`: if none does); `$exists` means "has a tag" |
| `config.<key>` | `config_json` at `<key>` |
| `summary_metrics.<key>`, `summary.<key>` | `summary_json` at `<key>` |

A summary key holding an aggregation object (`define_metric("val/acc", summary="max")` stores
`{"max": 0.93}`) compares and orders as a number by its first aggregate of max, min, mean,
last, first, best; `summary_metrics.val/acc.min` names one. A `<key>` with dots names either one flat key (`train.acc`) or nested keys (`optimizer.beta`,
`val/acc.max` inside an aggregation object), so each split of it is a candidate JSON pointer
and the first that exists wins, the fewest splits first. A trailing `.value` (wandb's
`config.lr.value`) is tried as a key first and then without it.

Comparisons are typed by the filter value, as in MongoDB: a number matches only JSON numbers
(and non-finite markers: NaN, ±inf), a string only strings, a bool only bools; `None` with
`$eq`/`$ne` is "missing or null". Every predicate is two-valued (a missing or mismatched value
is FALSE, never NULL), so `$not`, `$nor`, `$ne` and `$nin` behave as in MongoDB: they match
runs where the field is missing. NaN is equal to NaN and never greater or less than anything.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import product
from typing import Any

import duckdb

from runlake.errors import Error
from runlake.engine.times import parse_iso


class FilterError(Error, ValueError):
    """A run filter or order string that cannot be translated; the message says what is allowed."""


Frag = tuple[str, list[Any]]  # SQL text with `?` placeholders, and their parameters in order

_TEXT = {name: name for name in ("id", "entity", "project", "name", "display_name", "state",
                                 "job_type", "notes")}
_TEXT["group"] = '"group"'  # a keyword
_TIMES = {"created_at": "created_at", "createdAt": "created_at",
          "heartbeat_at": "heartbeat_at", "heartbeatAt": "heartbeat_at"}
_JSON = {"config": "config_json", "summary_metrics": "summary_json", "summary": "summary_json"}
_FIELDS = "id, entity, project, name, display_name, state, group, job_type, notes, tags, " \
          "created_at, heartbeat_at, config.<key>, summary_metrics.<key> (or summary.<key>)"

_LOGICAL = ("$and", "$or", "$nor", "$not")
_ORDERED = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_OPERATORS = ("$eq", "$ne", *_ORDERED, "$in", "$nin", "$regex", "$options", "$exists", "$not")
# define_metric(summary=...) stores {"max": ..} (or min/mean/...) as a key's summary; a number
# comparison or order on the key uses the first of these it holds.
_AGGREGATES = ("max", "min", "mean", "last", "first", "best")
_MAX_SPLIT = 4    # keys of up to 4 dot-segments try every split (at most 8 candidate paths)
_MAX_DEPTH = 64   # deeper filters are surely not hand-written; refuse before recursion does


@dataclass(frozen=True)
class _Field:
    name: str            # as the filter wrote it, for messages
    kind: str            # "text", "time", "tags" or "json"
    column: str          # from the whitelist above only
    paths: tuple[str, ...] = ()
    aggregates: tuple[str, ...] = ()  # summary only: pointers into an aggregation object


def where_sql(filters: Mapping[str, Any] | None) -> Frag:
    """A boolean SQL expression for wandb-style `filters` (TRUE for None or {}), and its parameters."""
    if filters is None:
        return "TRUE", []
    return _document(filters, 0)


def order_sql(order: str | None) -> Frag:
    """An ORDER BY list (without ORDER BY) for `+field`/`-field`/`field`, and its parameters.

    None is newest first. NULLs sort last; `id` always breaks ties so pages are stable.
    """
    if order is None:
        return "created_at DESC NULLS LAST, id ASC", []
    if not isinstance(order, str) or not order.strip():
        raise FilterError(f"order must be a field with an optional +/- prefix, not {order!r}")
    name = order.strip()
    direction = "DESC" if name[0] == "-" else "ASC"
    field = _field(name[1:] if name[0] in "+-" else name)
    if field.kind == "json":  # a JSON value sorts by number, then string, then bool
        keys = [_fmt("nullif({}, 'NaN'::DOUBLE)", _typed(field, "num")),
                _typed(field, "str"), _typed(field, "bool")]
    else:
        keys = [(field.column, [])]
    keys = [_fmt(f"{{}} {direction} NULLS LAST", k) for k in keys]
    if field.column != "id":
        keys.append(("id ASC", []))
    return _join(", ", keys)


# -- documents and logic ---------------------------------------------------------------------

def _document(doc: Any, depth: int) -> Frag:
    if not isinstance(doc, Mapping):
        raise FilterError(f"a filter must be a dict, not {type(doc).__name__}: {doc!r}")
    if depth > _MAX_DEPTH:
        raise FilterError(f"filter nested deeper than {_MAX_DEPTH} levels")
    parts = []
    for key, cond in doc.items():
        if key in ("$and", "$or", "$nor"):
            if not isinstance(cond, (list, tuple)) or not cond:
                raise FilterError(f"{key} needs a non-empty list of filters, not {cond!r}")
            subs = [_document(sub, depth + 1) for sub in cond]
            joined = _join(" AND " if key == "$and" else " OR ", subs)
            parts.append(_fmt("(NOT ({}))" if key == "$nor" else "({})", joined))
        elif key == "$not":
            parts.append(_fmt("(NOT ({}))", _document(cond, depth + 1)))
        elif isinstance(key, str) and key.startswith("$"):
            raise FilterError(f"unknown operator {key!r} at the top of a filter; "
                              f"allowed: {', '.join(_LOGICAL)} or a field name")
        else:
            parts.append(_condition(_field(key), cond, depth + 1))
    return _join(" AND ", parts) if parts else ("TRUE", [])


def _condition(field: _Field, cond: Any, depth: int) -> Frag:
    """One field's condition: a bare value (`$eq`) or a dict of operators, ANDed."""
    if not isinstance(cond, Mapping):
        return _compare(field, "$eq", cond)
    if depth > _MAX_DEPTH:
        raise FilterError(f"filter nested deeper than {_MAX_DEPTH} levels")
    if not cond or not all(isinstance(k, str) and k.startswith("$") for k in cond):
        raise FilterError(f"{field.name}: expected a value or a dict of operators, not {cond!r} "
                          "(objects are not compared whole: filter on a key inside them)")
    parts = []
    for op, value in cond.items():
        if op == "$not":
            if not isinstance(value, Mapping):
                raise FilterError(f"{field.name}: $not needs a dict of operators, not {value!r}")
            parts.append(_fmt("(NOT ({}))", _condition(field, value, depth + 1)))
        elif op == "$regex":
            parts.append(_regex(field, value, cond.get("$options", "")))
        elif op == "$options":
            if "$regex" not in cond:
                raise FilterError(f"{field.name}: $options is only allowed with $regex")
        elif op in _OPERATORS:
            parts.append(_compare(field, op, value))
        else:
            raise FilterError(f"unknown operator {op!r} on {field.name}; allowed: {', '.join(_OPERATORS)}")
    return _join(" AND ", parts)


# -- fields ----------------------------------------------------------------------------------

def _field(name: Any) -> _Field:
    if not isinstance(name, str):
        raise FilterError(f"a field name must be a string, not {name!r}")
    if name in _TEXT:
        return _Field(name, "text", _TEXT[name])
    if name in _TIMES:
        return _Field(name, "time", _TIMES[name])
    if name == "tags":
        return _Field(name, "tags", "tags")
    prefix, dot, key = name.partition(".")
    if prefix in _JSON:
        if not key:
            raise FilterError(f"{name!r} needs a key: {prefix}.<key>")
        paths = _paths(key)
        aggregates = tuple(f"{p}/{a}" for p in paths for a in _AGGREGATES) if prefix != "config" else ()
        return _Field(name, "json", _JSON[prefix], paths, aggregates)
    raise FilterError(f"unknown field {name!r}; allowed: {_FIELDS}")


def _paths(key: str) -> tuple[str, ...]:
    """JSON pointers the key may name: each split of it at dots, fewest splits first."""
    segments = key.split(".")
    candidates = _splits(segments)
    if len(segments) > 1 and segments[-1] == "value":  # wandb's config.<key>.value
        candidates += _splits(segments[:-1])
    # RFC 6901 escaping (~ then /) makes any key text a literal pointer segment.
    pointers = ("".join("/" + p.replace("~", "~0").replace("/", "~1") for p in c) for c in candidates)
    return tuple(dict.fromkeys(pointers))


def _splits(segments: list[str]) -> list[list[str]]:
    if len(segments) > _MAX_SPLIT:
        return [[".".join(segments)], segments]
    out = []
    for cuts in product((False, True), repeat=len(segments) - 1):
        parts = [segments[0]]
        for cut, seg in zip(cuts, segments[1:]):
            if cut:
                parts.append(seg)
            else:
                parts[-1] += "." + seg
        out.append(parts)
    return sorted(out, key=len)  # stable: the whole key first


def _json_value(field: _Field) -> Frag:
    """The JSON value at the first candidate path that exists (SQL NULL if none)."""
    extract = f"json_extract({field.column}, ?)"
    if len(field.paths) == 1:
        return extract, [field.paths[0]]
    return f"COALESCE({', '.join([extract] * len(field.paths))})", list(field.paths)


def _typed(field: _Field, kind: str) -> Frag | None:
    """The field as SQL of one comparison type ("str", "num", "bool" or "time"); None if it has none."""
    if field.kind == "text":
        return (field.column, []) if kind == "str" else None
    if field.kind == "time":
        return (f"epoch_us({field.column})", []) if kind == "time" else None
    v = _json_value(field)
    if kind == "str":
        return _fmt("CASE WHEN json_type({}) = 'VARCHAR' THEN json_extract_string({}, '$') END", v, v)
    if kind == "bool":
        return _fmt("CASE WHEN json_type({}) = 'BOOLEAN' THEN CAST({} AS BOOLEAN) END", v, v)
    if kind == "num":
        number = _number(v)
        for pointer in field.aggregates:  # an aggregation object: its first aggregate held
            number = _fmt("COALESCE({}, {})", number, _number((f"json_extract({field.column}, ?)",
                                                                 [pointer])))
        return number
    return None


def _number(v: Frag) -> Frag:
    # The JSON text of a number casts to DOUBLE; that of a string ("..."), bool or object does
    # not. run.json writes NaN and ±inf as {"_nonfinite": "NaN" | "Infinity" | "-Infinity"}.
    return _fmt("TRY_CAST(COALESCE(json_extract_string({}, '$._nonfinite'), CAST({} AS VARCHAR))"
                " AS DOUBLE)", v, v)


# -- operators -------------------------------------------------------------------------------

def _compare(field: _Field, op: str, value: Any) -> Frag:
    if field.kind == "tags":
        return _tags(field, op, value)
    if op == "$exists":
        if not isinstance(value, bool):
            raise FilterError(f"{field.name}: $exists needs true or false, not {value!r}")
        present = _present(field)
        return present if value else _fmt("(NOT {})", present)
    if op in ("$ne", "$nin"):
        return _fmt("(NOT {})", _compare(field, "$eq" if op == "$ne" else "$in", value))
    if op == "$in":
        if not isinstance(value, (list, tuple)):
            raise FilterError(f"{field.name}: $in needs a list, not {value!r}")
        return _in(field, list(value))
    if op == "$eq":
        return _in(field, [value])
    kind, param = _param(field, op, value)
    if param is None or (kind == "num" and math.isnan(param)):
        raise FilterError(f"{field.name}: {op} needs a number, string, bool or datetime, not {value!r}")
    typed = _typed(field, kind)
    if typed is None:
        return "FALSE", []
    if kind == "num":  # DuckDB orders NaN above +inf; MongoDB and IEEE never order it
        typed = _fmt("nullif({}, 'NaN'::DOUBLE)", typed)
    return _fmt(f"COALESCE({{}} {_ORDERED[op]} ?, FALSE)", typed, tail=[param])


def _in(field: _Field, values: list[Any]) -> Frag:
    """True if the field equals one of the values, each compared in its own type."""
    groups: dict[str, list[Any]] = {}
    for value in values:
        kind, param = _param(field, "$eq", value)
        groups.setdefault(kind, []).append(param)
    parts = []
    for kind, params in groups.items():
        if kind == "null":
            parts.append(_fmt("(NOT {})", _present(field, null_counts=False)))
        elif (typed := _typed(field, kind)) is not None:
            marks = ", ".join("?" * len(params))
            parts.append(_fmt(f"COALESCE({{}} IN ({marks}), FALSE)", typed, tail=params))
    return _fmt("({})", _join(" OR ", parts)) if parts else ("FALSE", [])


def _present(field: _Field, null_counts: bool = True) -> Frag:
    """The field exists; with null_counts=False, it exists and is not null."""
    if field.kind != "json":
        return f"({field.column} IS NOT NULL)", []
    if null_counts:  # MongoDB: a key holding null exists
        return _fmt("({} IS NOT NULL)", _json_value(field))
    return _fmt("(COALESCE(json_type({}), 'NULL') <> 'NULL')", _json_value(field))


def _check_regex(field: _Field, pattern: str) -> None:
    """Compile the pattern as the query will (DuckDB's RE2), so a bad one is an error naming
    the field, not a raw DuckDB error from the middle of the runs query."""
    try:
        with duckdb.connect() as con:  # its own: a connection is not for several threads
            con.execute("SELECT regexp_matches('', ?)", [pattern]).fetchall()
    except duckdb.Error as exc:
        why = str(exc).split("Error: ", 1)[-1].splitlines()[0]
        raise FilterError(f"{field.name}: $regex {pattern!r} is not a valid regular expression "
                          f"(RE2 syntax: {why})") from None


def _regex(field: _Field, pattern: Any, options: Any) -> Frag:
    if not isinstance(pattern, str):
        raise FilterError(f"{field.name}: $regex needs a string, not {pattern!r}")
    if not isinstance(options, str) or set(options) - set("ims"):
        raise FilterError(f"{field.name}: $options may hold only the flags i, m, s, not {options!r}")
    if options:  # MongoDB's i/m/s are RE2's inline flags
        pattern = f"(?{''.join(sorted(set(options)))}){pattern}"
    _check_regex(field, pattern)
    if field.kind == "tags":
        return _any_tag("regexp_matches(_tag, ?)", [pattern])
    typed = _typed(field, "str")
    if typed is None:
        raise FilterError(f"{field.name}: $regex applies to strings, not to a timestamp")
    return _fmt("COALESCE(regexp_matches({}, ?), FALSE)", typed, tail=[pattern])


def _tags(field: _Field, op: str, value: Any) -> Frag:
    if op == "$exists":
        if not isinstance(value, bool):
            raise FilterError(f"tags: $exists needs true or false, not {value!r}")
        has = ("COALESCE(len(tags) > 0, FALSE)", [])
        return has if value else _fmt("(NOT {})", has)
    if op in ("$ne", "$nin"):
        return _fmt("(NOT {})", _tags(field, "$eq" if op == "$ne" else "$in", value))
    values = value if op == "$in" else [value]
    if op == "$in" and not isinstance(value, (list, tuple)):
        raise FilterError(f"tags: $in needs a list, not {value!r}")
    if not all(isinstance(v, str) for v in values):
        raise FilterError(f"tags: {op} needs tag strings, not {value!r}")
    if op in _ORDERED:
        return _any_tag(f"_tag {_ORDERED[op]} ?", [value])
    if not values:
        return "FALSE", []
    return _any_tag(f"_tag IN ({', '.join('?' * len(values))})", list(values))


def _any_tag(predicate: str, params: list[Any]) -> Frag:
    return f"EXISTS (SELECT 1 FROM unnest(tags) AS _t(_tag) WHERE {predicate})", params


def _param(field: _Field, op: str, value: Any) -> tuple[str, Any]:
    """(comparison type, parameter) for a filter value; type "null" for None."""
    if value is None:
        return "null", None
    if field.kind == "time":
        return "time", _epoch_us(field, value)
    if isinstance(value, bool):
        return "bool", value
    if isinstance(value, numbers.Real):
        return "num", float(value)
    if isinstance(value, str):
        return "str", value
    raise FilterError(f"{field.name}: {op} compares with a number, string, bool or None, not {value!r}")


def _epoch_us(field: _Field, value: Any) -> int:
    """A datetime or ISO 8601 string as UTC microseconds; naive times are UTC, like the index."""
    when = value
    if isinstance(value, str):
        try:
            when = parse_iso(value)
        except ValueError:
            raise FilterError(f"{field.name}: {value!r} is not an ISO 8601 timestamp") from None
    if not isinstance(when, datetime):
        raise FilterError(f"{field.name} compares with an ISO 8601 string or a datetime, not {value!r}")
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    delta = when - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# -- SQL fragments ---------------------------------------------------------------------------

def _fmt(template: str, *frags: Frag, tail: list[Any] = ()) -> Frag:
    """Fill each `{}` in template with a fragment, keeping parameters in text order.

    `tail` are the parameters of `?`s in the template, which must all follow the last `{}`.
    """
    pieces = template.split("{}")
    assert len(pieces) == len(frags) + 1 and "?" not in "".join(pieces[:-1]), template
    text, params = pieces[0], []
    for (sql, ps), piece in zip(frags, pieces[1:]):
        text += sql + piece
        params += ps
    return text, params + list(tail)


def _join(sep: str, frags: list[Frag]) -> Frag:
    return sep.join(sql for sql, _ in frags), [p for _, ps in frags for p in ps]


def check_keys(keys: Any, what: str) -> list[str] | None:
    """`history(keys=...)`'s argument as a list of column names, or a clear error."""
    if keys is None:
        return None
    if isinstance(keys, str):
        raise FilterError(f"{what}(keys=...) takes a list of keys, not the string {keys!r}: "
                          f"pass [{keys!r}]")
    try:
        keys = list(keys)
    except TypeError:
        raise FilterError(f"{what}(keys=...) takes a list of keys, not a "
                          f"{type(keys).__name__}") from None
    bad = [k for k in keys if not isinstance(k, str)]
    if bad:
        raise FilterError(f"{what}(keys=...): keys are strings (column names); got "
                          f"{type(bad[0]).__name__} {bad[0]!r}: pass str({bad[0]!r}) if that is its name")
    return keys
