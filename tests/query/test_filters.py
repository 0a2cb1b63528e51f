"""query/filters.py: wandb-style filters and orders run as parameterised SQL on a real DuckDB."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runlake.errors import Error
from runlake.query.filters import FilterError, order_sql, where_sql

NAN = {"_nonfinite": "NaN"}
T0 = datetime(2024, 1, 1)

# id, state, group, job_type, tags, name, created_at (hours after T0), config, summary
RUNS: list[tuple[Any, ...]] = [
    ("a1", "finished", "g1", "train", ["baseline", "x"], "alpha", 0,
     {"lr": 0.001, "bs": 64, "optimizer": {"name": "adam", "beta": 0.9}, "use_amp": True},
     {"train/loss": 0.5, "val/acc": {"max": 0.93}, "train.acc": 0.8, "epoch": 10}),
    ("b2", "running", "g1", "eval", ["x"], "beta", 1,
     {"lr": 0.01, "bs": 32, "optimizer": {"name": "sgd", "beta": 0.5}, "use_amp": False},
     {"train/loss": NAN, "val/acc": {"max": 0.5}, "train.acc": 0.3, "epoch": 2}),
    ("c3", "failed", None, "train", [], "gamma", 2,
     {"lr": "0.001", "bs": 64.0, "optimizer": {"name": "adam"}, "sched": {"value": 5}},
     {"train/loss": {"_nonfinite": "Infinity"}, "val/acc": 0.7}),
    ("d4", "crashed", None, None, None, "delta", 3, {}, {}),
    ("e5", "preempting", "g2", "train", ["y"], "epsilon", 0,
     {"lr": None, "layers": [64, 32], "a.b": 1},
     {"train/loss": -1.0, "val/acc": {"max": 0.93}}),
    ("f6", "finished", "g2", "train", ["'; DROP TABLE runs; --"], "ünï 'q\"", 5,
     {"lr": 0.001, "a": {"b": 2}, "we\"ird'\\ key/ü": "va'l\"ue\\; DROP TABLE runs; --"},
     {"train/loss": 0.1}),
    ("g7", "finished", "g3", "train", ["x", "z"], "eta", 6,
     {"lr": True, "bs": "64"}, {"train/loss": 0.1, "epoch": 3}),
    ("h8", "finished", None, "train", ["z"], "theta", None,
     {"lr": 1, "optimizer": {"name": "adam", "beta": NAN}}, {"train/loss": {"_nonfinite": "-Infinity"}}),
]
IDS = [r[0] for r in RUNS]

SCHEMA = ('id VARCHAR, entity VARCHAR, project VARCHAR, name VARCHAR, display_name VARCHAR,'
          ' state VARCHAR, "group" VARCHAR, job_type VARCHAR, tags VARCHAR[], notes VARCHAR,'
          ' created_at TIMESTAMP, heartbeat_at TIMESTAMP, config_json JSON, summary_json JSON')


def make_runs(schema: str = SCHEMA) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"CREATE TABLE runs ({schema})")
    for rid, state, group, job, tags, name, hours, config, summary in RUNS:
        created = None if hours is None else T0 + timedelta(hours=hours)
        con.execute(
            "INSERT INTO runs VALUES (?, 'local', 'p', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [rid, name, name, state, group, job, tags, None if rid != "a1" else "note",
             created, created, json.dumps(config), json.dumps(summary)],
        )
    return con


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    return make_runs()


def ids(con: duckdb.DuckDBPyConnection, filters: Any) -> list[str]:
    where, params = where_sql(filters)
    return [r[0] for r in con.execute(f"SELECT id FROM runs WHERE {where} ORDER BY id", params).fetchall()]


def ordered(con: duckdb.DuckDBPyConnection, order: str | None) -> list[str]:
    by, params = order_sql(order)
    return [r[0] for r in con.execute(f"SELECT id FROM runs ORDER BY {by}", params).fetchall()]


def test_empty_filters_match_everything(con):
    assert where_sql(None) == ("TRUE", [])
    assert ids(con, None) == ids(con, {}) == IDS


@pytest.mark.parametrize("filters, expected", [
    ({"state": "finished"}, ["a1", "f6", "g7", "h8"]),
    ({"state": {"$eq": "running"}}, ["b2"]),
    ({"state": {"$ne": "finished"}}, ["b2", "c3", "d4", "e5"]),
    ({"state": {"$in": ["failed", "crashed"]}}, ["c3", "d4"]),
    ({"state": {"$nin": ["finished", "running"]}}, ["c3", "d4", "e5"]),
    ({"state": {"$in": []}}, []),
    ({"state": {"$nin": []}}, IDS),
    ({"name": {"$regex": "^e"}}, ["e5", "g7"]),
    ({"name": {"$regex": "TA", "$options": "i"}}, ["b2", "d4", "g7", "h8"]),
    ({"name": {"$gt": "eta"}}, ["c3", "f6", "h8"]),
    ({"group": None}, ["c3", "d4", "h8"]),
    ({"group": {"$ne": None}}, ["a1", "b2", "e5", "f6", "g7"]),
    ({"group": {"$exists": False}}, ["c3", "d4", "h8"]),
    ({"group": {"$ne": "g1"}}, ["c3", "d4", "e5", "f6", "g7", "h8"]),  # null group included
    ({"job_type": {"$nin": ["train"]}}, ["b2", "d4"]),
    ({"notes": "note"}, ["a1"]),
    ({"id": {"$in": ["a1", "zz", 5]}}, ["a1"]),
    ({"entity": "local", "project": "p", "display_name": "beta"}, ["b2"]),
    ({"state": 1}, []),  # a type mismatch matches nothing, as in MongoDB
    ({"state": {"$ne": 1}}, IDS),
])
def test_columns(con, filters, expected):
    assert ids(con, filters) == expected


@pytest.mark.parametrize("filters, expected", [
    ({"config.lr": 0.001}, ["a1", "f6"]),  # "0.001" (a string) and True are not numbers
    ({"config.lr": "0.001"}, ["c3"]),
    ({"config.lr": True}, ["g7"]),
    ({"config.lr": 1}, ["h8"]),  # not True: bools and numbers are different types
    ({"config.lr": {"$gt": 0.005}}, ["b2", "h8"]),
    ({"config.lr": {"$gte": 0.001, "$lt": 1}}, ["a1", "b2", "f6"]),
    ({"config.lr": {"$lte": 0.001}}, ["a1", "f6"]),
    ({"config.lr": None}, ["d4", "e5"]),  # missing or null
    ({"config.lr": {"$exists": True}}, ["a1", "b2", "c3", "e5", "f6", "g7", "h8"]),  # null exists
    ({"config.lr": {"$exists": False}}, ["d4"]),
    ({"config.lr": {"$ne": 0.001}}, ["b2", "c3", "d4", "e5", "g7", "h8"]),
    ({"config.lr": {"$in": [0.01, "0.001", None]}}, ["b2", "c3", "d4", "e5"]),
    ({"config.lr": {"$nin": [0.001, True]}}, ["b2", "c3", "d4", "e5", "h8"]),
    ({"config.lr": {"$not": {"$gt": 0.005}}}, ["a1", "c3", "d4", "e5", "f6", "g7"]),
    ({"config.lr": {"$regex": "^0\\.0"}}, ["c3"]),  # only strings
    ({"config.bs": 64}, ["a1", "c3"]),  # 64 and 64.0; not "64"
    ({"config.bs": {"$lt": 50}}, ["b2"]),
    ({"config.optimizer.name": "adam"}, ["a1", "c3", "h8"]),
    ({"config.optimizer.beta": {"$gte": 0.5}}, ["a1", "b2"]),  # NaN never compares
    ({"config.optimizer.beta": float("nan")}, ["h8"]),
    ({"config.optimizer.beta": {"$exists": False}}, ["c3", "d4", "e5", "f6", "g7"]),
    ({"config.use_amp": False}, ["b2"]),
    ({"config.use_amp": {"$ne": True}}, ["b2", "c3", "d4", "e5", "f6", "g7", "h8"]),
    ({"config.a.b": 1}, ["e5"]),  # the flat key "a.b"
    ({"config.a.b": 2}, ["f6"]),  # nested {"a": {"b": 2}}
    ({"config.a.b": {"$exists": True}}, ["e5", "f6"]),
    ({"config.lr.value": 0.001}, ["a1", "f6"]),  # wandb's form, no "value" key stored
    ({"config.sched.value": 5}, ["c3"]),  # a real "value" key wins
    ({"config.sched": {"$exists": True}}, ["c3"]),
    ({"config.layers.1": 32}, ["e5"]),  # a pointer segment indexes a list
    ({"config.missing": {"$exists": False}}, IDS),
    ({"config.missing": {"$gt": 0}}, []),
    ({"config.missing": {"$nin": [1]}}, IDS),
    ({"config.optimizer": "adam"}, []),  # an object is none of the compared types
])
def test_config(con, filters, expected):
    assert ids(con, filters) == expected


@pytest.mark.parametrize("filters, expected", [
    ({"summary_metrics.train/loss": {"$lt": 0.2}}, ["e5", "f6", "g7", "h8"]),  # -inf included
    ({"summary_metrics.train/loss": {"$gt": 1e300}}, ["c3"]),  # +inf, not NaN
    ({"summary_metrics.train/loss": float("inf")}, ["c3"]),
    ({"summary_metrics.train/loss": float("nan")}, ["b2"]),
    ({"summary_metrics.train/loss": {"$ne": float("nan")}}, ["a1", "c3", "d4", "e5", "f6", "g7", "h8"]),
    ({"summary.train/loss": 0.1}, ["f6", "g7"]),
    ({"summary_metrics.train.acc": {"$gte": 0.3}}, ["a1", "b2"]),  # the flat key "train.acc"
    ({"summary_metrics.val/acc.max": 0.93}, ["a1", "e5"]),  # into an aggregation object
    ({"summary_metrics.val/acc.max": {"$lt": 0.9}}, ["b2"]),
    ({"summary_metrics.val/acc": {"$gt": 0.6}}, ["a1", "c3", "e5"]),  # {"max": ..} by its max
    ({"summary_metrics.val/acc": 0.5}, ["b2"]),
    ({"summary_metrics.val/acc": {"$exists": True}}, ["a1", "b2", "c3", "e5"]),
    ({"summary_metrics.epoch": {"$in": [2, 3]}}, ["b2", "g7"]),
])
def test_summary(con, filters, expected):
    assert ids(con, filters) == expected


@pytest.mark.parametrize("filters, expected", [
    ({"tags": "x"}, ["a1", "b2", "g7"]),
    ({"tags": {"$eq": "z"}}, ["g7", "h8"]),
    ({"tags": {"$in": ["y", "z"]}}, ["e5", "g7", "h8"]),
    ({"tags": {"$nin": ["x", "z"]}}, ["c3", "d4", "e5", "f6"]),
    ({"tags": {"$ne": "x"}}, ["c3", "d4", "e5", "f6", "h8"]),
    ({"tags": {"$exists": True}}, ["a1", "b2", "e5", "f6", "g7", "h8"]),
    ({"tags": {"$exists": False}}, ["c3", "d4"]),  # [] and NULL: no tags
    ({"tags": {"$regex": "^base"}}, ["a1"]),
    ({"tags": {"$in": []}}, []),
    ({"tags": "x", "state": "finished"}, ["a1", "g7"]),
])
def test_tags(con, filters, expected):
    assert ids(con, filters) == expected


@pytest.mark.parametrize("filters, expected", [
    ({"created_at": {"$gte": "2024-01-01T02:00:00"}}, ["c3", "d4", "f6", "g7"]),
    ({"createdAt": {"$lt": "2024-01-01T01:00:00Z"}}, ["a1", "e5"]),
    ({"created_at": {"$lt": "2024-01-01T02:00:00+01:00"}}, ["a1", "e5"]),  # 01:00 UTC
    ({"created_at": T0 + timedelta(hours=1)}, ["b2"]),
    ({"created_at": {"$gte": datetime(2024, 1, 1, 4, tzinfo=timezone(timedelta(hours=-1)))}}, ["f6", "g7"]),
    ({"created_at": None}, ["h8"]),
    ({"heartbeatAt": {"$in": ["2024-01-01T05:00:00", T0 + timedelta(hours=6)]}}, ["f6", "g7"]),
    ({"created_at": {"$exists": False}}, ["h8"]),
])
def test_timestamps(con, filters, expected):
    assert ids(con, filters) == expected


@pytest.mark.parametrize("filters, expected", [
    ({"$and": [{"state": "finished"}, {"config.lr": 0.001}]}, ["a1", "f6"]),
    ({"$or": [{"state": "running"}, {"tags": "z"}]}, ["b2", "g7", "h8"]),
    ({"$nor": [{"state": "finished"}, {"config.lr": {"$gt": 0.005}}]}, ["c3", "d4", "e5"]),
    ({"$not": {"state": "finished"}}, ["b2", "c3", "d4", "e5"]),
    # NOT of a comparison on a missing value is TRUE: predicates never yield NULL.
    ({"$not": {"config.bs": {"$gt": 40}}}, ["b2", "d4", "e5", "f6", "g7", "h8"]),
    ({"$nor": [{"config.optimizer.beta": {"$lt": 1}}]}, ["c3", "d4", "e5", "f6", "g7", "h8"]),
    ({"$or": [{"$and": [{"tags": "x"}, {"$not": {"state": "finished"}}]}, {"config.a.b": {"$exists": True}}]},
     ["b2", "e5", "f6"]),
    ({"state": "finished", "$or": [{"tags": "z"}, {"config.lr": 0.001}]}, ["a1", "f6", "g7", "h8"]),
    ({"config.lr": {"$not": {"$not": {"$eq": 0.001}}}}, ["a1", "f6"]),
])
def test_logic(con, filters, expected):
    assert ids(con, filters) == expected


@pytest.mark.parametrize("filters, message", [
    ({"state": {"$foo": 1}}, "$foo"),
    ({"config.lr": {"$elemMatch": {"$gt": 1}}}, "$elemMatch"),
    ({"$foo": [{"state": "x"}]}, "$foo"),
    ({"$where": "1"}, "$where"),
    ({"bogus": 1}, "bogus"),
    ({"config": 1}, "config.<key>"),
    ({"config.": 1}, "config.<key>"),
    ({"sweep": "x"}, "sweep"),
    ({"state": {"$in": "finished"}}, "$in"),
    ({"state": {"$nin": 3}}, "$in"),
    ({"name": {"$regex": 3}}, "$regex"),
    ({"name": {"$regex": "a", "$options": "x"}}, "$options"),
    ({"name": {"$options": "i"}}, "$options"),
    ({"$and": {"state": "x"}}, "$and"),
    ({"$or": []}, "$or"),
    ({"$nor": "x"}, "$nor"),
    ({"$not": "x"}, "dict"),
    ({"config.lr": {"$not": 3}}, "$not"),
    ({"config.lr": {"$exists": 1}}, "$exists"),
    ({"config.lr": {"$gt": None}}, "$gt"),
    ({"config.lr": {"$gt": float("nan")}}, "$gt"),
    ({"config.lr": {"$gt": [1]}}, "$gt"),
    ({"config.lr": [1, 2]}, "$eq"),
    ({"config.lr": {"a": 1}}, "objects"),
    ({"config.lr": {"$gt": 1, "b": 2}}, "operators"),
    ({"config.lr": {}}, "operators"),
    ({"tags": 3}, "tags"),
    ({"tags": {"$in": ["a", None]}}, "tags"),
    ({"tags": {"$exists": "yes"}}, "$exists"),
    ({"created_at": {"$gt": "yesterday"}}, "ISO"),
    ({"created_at": {"$gt": 17}}, "ISO"),
    ({"created_at": {"$regex": "2024"}}, "$regex"),
    ({1: 2}, "field"),
    ([{"state": "x"}], "dict"),
])
def test_bad_filters_raise(filters, message):
    with pytest.raises(FilterError, match=re.escape(message)) as info:
        where_sql(filters)
    assert isinstance(info.value, Error) and isinstance(info.value, ValueError)


def test_deep_nesting_is_refused():
    deep: dict[str, Any] = {"state": "x"}
    for _ in range(100):
        deep = {"$not": deep}
    with pytest.raises(FilterError, match="nested"):
        where_sql(deep)


def test_order(con):
    assert order_sql(None) == ("created_at DESC NULLS LAST, id ASC", [])
    # Newest first, ties (a1 and e5 both at T0) by id, a missing created_at last.
    assert ordered(con, None) == ["g7", "f6", "d4", "c3", "b2", "a1", "e5", "h8"]
    assert ordered(con, "-created_at") == ordered(con, None)
    assert ordered(con, "+createdAt") == ordered(con, "created_at") == ["a1", "e5", "b2", "c3", "d4", "f6", "g7", "h8"]
    assert ordered(con, "name")[:2] == ["a1", "b2"]
    assert ordered(con, "-state") == ["b2", "e5", "a1", "f6", "g7", "h8", "c3", "d4"]
    assert ordered(con, "+state") == ["d4", "c3", "a1", "f6", "g7", "h8", "e5", "b2"]
    assert ordered(con, "-group") == ["g7", "e5", "f6", "a1", "b2", "c3", "d4", "h8"]
    assert ordered(con, "-id") == IDS[::-1]


def test_order_json(con):
    # Numbers (nulls, objects and NaN last), then strings, then bools.
    assert ordered(con, "+config.lr") == ["a1", "f6", "b2", "h8", "c3", "g7", "d4", "e5"]
    assert ordered(con, "-config.lr") == ["h8", "b2", "a1", "f6", "c3", "g7", "d4", "e5"]
    assert ordered(con, "-summary_metrics.train/loss") == ["c3", "a1", "f6", "g7", "e5", "h8", "b2", "d4"]
    assert ordered(con, "summary_metrics.val/acc.max") == ["b2", "a1", "e5", "c3", "d4", "f6", "g7", "h8"]
    # An aggregation object ({"max": ..}, from define_metric(summary="max")) orders by its value.
    assert ordered(con, "-summary_metrics.val/acc") == ["a1", "e5", "c3", "b2", "d4", "f6", "g7", "h8"]
    assert ordered(con, "-config.optimizer.name")[:4] == ["b2", "a1", "c3", "h8"]


@pytest.mark.parametrize("order", ["", "-", "+bogus", "config", 3, "-summary_metrics."])
def test_bad_order_raises(order):
    with pytest.raises(FilterError):
        order_sql(order)


HOSTILE = ["'; DROP TABLE runs; --", 'we"ird\'\\ key/ü', "va'l\"ue\\; DROP TABLE runs; --", "ünï 'q\"",
           "$.x", "~1", "/x", "a\\\\b", "🦆", "\x00nul"]


def test_no_value_or_key_is_pasted_into_sql(con):
    cases = [
        ({"tags": "'; DROP TABLE runs; --"}, ["f6"]),
        ({"config.we\"ird'\\ key/ü": "va'l\"ue\\; DROP TABLE runs; --"}, ["f6"]),
        ({"config.we\"ird'\\ key/ü": {"$regex": "DROP TABLE"}}, ["f6"]),
        ({"name": "ünï 'q\""}, ["f6"]),
        ({"name": {"$in": ["ünï 'q\"", "a\\\\b", "🦆"]}}, ["f6"]),
        ({"config.$.x": 1, "summary_metrics.~1": {"$ne": "/x"}}, []),
        ({"summary_metrics./x": {"$exists": False}, "config.🦆.value": {"$nin": ["\x00nul"]}}, IDS),
        ({"$or": [{"config.a\\\\b": "'"}, {"notes": {"$regex": "'; DROP TABLE runs; --"}}]}, []),
    ]
    for filters, expected in cases:
        where, params = where_sql(filters)
        for text in HOSTILE:
            assert text not in where
        for text in ("DROP", "ü", "🦆", "we", "'q"):
            assert text not in where
        assert ids(con, filters) == expected
    by, params = order_sql("-config.we\"ird'\\ key/ü")
    assert "we" not in by and params
    assert ordered(con, "-config.we\"ird'\\ key/ü")[0] == "f6"
    assert con.execute("SELECT count(*) FROM runs").fetchone() == (8,)  # still there


def test_every_value_is_a_parameter():
    """Only whitelisted columns and constant SQL appear: no digits or strings from the filter."""
    where, params = where_sql({"config.lr": {"$gt": 123456}, "state": {"$in": ["s1", "s2"]},
                               "created_at": {"$lt": "2031-05-06"}})
    assert "123456" not in where and "s1" not in where and "2031" not in where
    assert where.count("?") == len(params)
    by, params = order_sql("-summary_metrics.zz9")
    assert "zz9" not in by and by.count("?") == len(params)


def test_the_run_index_shape():
    """api.py's runs_index: TIMESTAMPTZ and JSON as VARCHAR, in a session that is not UTC."""
    con = make_runs(SCHEMA.replace("TIMESTAMP", "TIMESTAMPTZ").replace(" JSON", " VARCHAR"))
    con.execute("SET TimeZone = 'America/New_York'")
    assert ids(con, {"created_at": {"$lt": "2024-01-01T01:00:00Z"}}) == ["a1", "e5"]
    assert ids(con, {"config.optimizer.name": "adam", "summary_metrics.val/acc.max": 0.93}) == ["a1"]
    assert ordered(con, None)[:2] == ["g7", "f6"]


# -- a Python model of the same semantics, checked against DuckDB on random filters ----------

class Invalid(Exception):
    pass


def lookup(run: tuple[Any, ...], field: str) -> tuple[bool, Any]:
    """(present, value) of a field in a sample run."""
    rid, state, group, job, tags, name, hours, config, summary = run
    columns = {"id": rid, "state": state, "group": group, "job_type": job, "name": name}
    if field in columns:
        return columns[field] is not None, columns[field]
    prefix, _, key = field.partition(".")
    doc = config if prefix == "config" else summary
    segments = key.split(".")
    keys = splits(segments) + (splits(segments[:-1]) if len(segments) > 1 and segments[-1] == "value" else [])
    for path in keys:
        node: Any = doc
        for part in path:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                break
        else:
            return True, node
    return False, None


def splits(segments: list[str]) -> list[list[str]]:
    if len(segments) == 1:
        return [segments]
    out = [[segments[0], *rest] for rest in splits(segments[1:])]
    out += [[segments[0] + "." + rest[0], *rest[1:]] for rest in splits(segments[1:])]
    return sorted(out, key=len)


def typed(value: Any) -> tuple[str, Any]:
    if isinstance(value, bool):
        return "bool", value
    if isinstance(value, (int, float)):
        return "num", float(value)
    if isinstance(value, str):
        return "str", value
    if isinstance(value, dict) and set(value) == {"_nonfinite"}:
        return "num", float(value["_nonfinite"])
    return "other", value


def as_number(field: str, have: Any) -> Any:
    """A summary aggregation object ({"max": ..}) compares as a number by its first aggregate."""
    if field.startswith("summary") and isinstance(have, dict) and set(have) != {"_nonfinite"}:
        for name in ("max", "min", "mean", "last", "first", "best"):
            if name in have and typed(have[name])[0] == "num":
                return have[name]
    return have


def equal(a: Any, b: Any) -> bool:
    (ta, va), (tb, vb) = typed(a), typed(b)
    return ta == tb != "other" and (va == vb or (ta == "num" and math.isnan(va) and math.isnan(vb)))


def matches(run: tuple[Any, ...], doc: dict[str, Any]) -> bool:
    result = True
    for key, cond in doc.items():
        if key in ("$and", "$or", "$nor"):
            subs = [matches(run, d) for d in cond]
            result &= all(subs) if key == "$and" else any(subs) if key == "$or" else not any(subs)
        elif key == "$not":
            result &= not matches(run, cond)
        else:
            result &= field_matches(run, key, cond)
    return result


def field_matches(run: tuple[Any, ...], field: str, cond: Any) -> bool:
    if not isinstance(cond, dict):
        cond = {"$eq": cond}
    return all(op_matches(run, field, op, value) for op, value in cond.items())


def op_matches(run: tuple[Any, ...], field: str, op: str, value: Any) -> bool:
    if op == "$not":
        return not field_matches(run, field, value)
    if op in ("$ne", "$nin"):
        return not op_matches(run, field, "$eq" if op == "$ne" else "$in", value)
    if field == "tags":
        tags = run[4] or []
        if op == "$exists":
            return bool(tags) == value
        values = value if op == "$in" else [value]
        if not all(isinstance(v, str) for v in values):
            raise Invalid
        if op in ("$eq", "$in"):
            return any(t in values for t in tags)
        if op == "$regex":
            return any(re.search(value, t) for t in tags)
        return any(ORDERED[op](t, value) for t in tags)
    present, have = lookup(run, field)
    if op == "$exists":
        return present == value
    if op == "$in":
        return any(op_matches(run, field, "$eq", v) for v in value)
    if typed(value)[0] == "num":
        have = as_number(field, have)
    if op == "$eq":
        return have is None if value is None else equal(have, value)
    if op == "$regex":
        return isinstance(have, str) and re.search(value, have) is not None
    (tv, v), (th, h) = typed(value), typed(have)
    if value is None or (tv == "num" and math.isnan(v)):
        raise Invalid
    return tv == th and not (th == "num" and math.isnan(h)) and ORDERED[op](h, v)


ORDERED = {"$gt": lambda a, b: a > b, "$gte": lambda a, b: a >= b,
           "$lt": lambda a, b: a < b, "$lte": lambda a, b: a <= b}
FIELDS = ["config.lr", "config.lr.value", "config.bs", "config.optimizer.name", "config.optimizer.beta",
          "config.a.b", "config.use_amp", "config.sched.value", "config.missing", "summary_metrics.train/loss",
          "summary_metrics.val/acc.max", "summary.train.acc", "summary_metrics.val/acc", "state", "group",
          "name", "tags"]
VALUES = st.sampled_from([0.001, 0.01, 1, 64, 0.5, 0.93, -1, float("nan"), float("inf"), "adam", "x", "z",
                          "finished", "g1", "0.001", "64", True, False, None])
PATTERNS = st.sampled_from(["^a", "ad", "x$", "in", "^g", "0"])
OPS = st.one_of(
    st.tuples(st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]), VALUES),
    st.tuples(st.sampled_from(["$in", "$nin"]), st.lists(VALUES, max_size=3)),
    st.tuples(st.just("$regex"), PATTERNS),
    st.tuples(st.just("$exists"), st.booleans()),
)
CONDITION = st.one_of(VALUES, st.dictionaries(st.sampled_from(["$op"]), OPS, min_size=1).map(
    lambda d: dict([d["$op"]])))
LEAF = st.dictionaries(st.sampled_from(FIELDS), st.one_of(CONDITION, CONDITION.map(
    lambda c: {"$not": c if isinstance(c, dict) else {"$eq": c}})), min_size=1, max_size=2)
FILTERS = st.recursive(LEAF, lambda inner: st.one_of(
    st.tuples(st.sampled_from(["$and", "$or", "$nor"]), st.lists(inner, min_size=1, max_size=3)).map(
        lambda t: {t[0]: t[1]}),
    inner.map(lambda d: {"$not": d}),
), max_leaves=6)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(FILTERS)
def test_sql_agrees_with_a_python_model(filters):
    con = _MODEL_CON
    try:
        expected = [run[0] for run in RUNS if matches(run, filters)]
    except Invalid:
        with pytest.raises(FilterError):
            where_sql(filters)
        return
    assert ids(con, filters) == expected


_MODEL_CON = make_runs()


@pytest.mark.parametrize("pattern", ["([", "(?=a)", "a{2,1}"])
def test_a_bad_regex_is_a_filter_error_naming_the_field(tmp_path, pattern):
    import runlake

    with runlake.init(settings={"root": tmp_path / "s"}, project="p", name="abc"):
        pass
    with pytest.raises(FilterError, match=r"name: \$regex .* is not a valid regular expression"):
        runlake.Api(tmp_path / "s").runs("p", filters={"name": {"$regex": pattern}})[0]
