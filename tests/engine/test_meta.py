"""meta: run.json is strict JSON, non-finite floats round-trip, and every write is atomic."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from runlake.engine import atomic, meta
from runlake.engine.layout import FORMAT_VERSION
from runlake.engine.meta import FIELDS, RunMeta, decode, encode, read_json, write_json


def strict_load(text: str):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and a == b


SUMMARY = {
    "nan": math.nan, "inf": math.inf, "ninf": -math.inf, "zero": -0.0, "x": 1.5, "n": 3,
    "b": True, "s": "Infinity", "none": None,
    "nested": {"deep": [math.nan, 1.0, {"v": -math.inf}], "text": "NaN"},
}


def test_nonfinite_round_trip_through_run_json(tmp_path):
    path = tmp_path / "runs" / "run.json"
    m = RunMeta(path, {"id": "r1", "summary": SUMMARY})
    m.update(state="running")
    text = path.read_text(encoding="utf-8")
    raw = strict_load(text)
    assert raw["summary"]["nan"] == {"_nonfinite": "NaN"}
    assert raw["summary"]["inf"] == {"_nonfinite": "Infinity"}
    assert raw["summary"]["ninf"] == {"_nonfinite": "-Infinity"}
    assert raw["summary"]["nested"]["deep"][0] == {"_nonfinite": "NaN"}
    loaded = RunMeta.load(path)
    assert same(loaded.get("summary"), SUMMARY)
    assert loaded.get("format_version") == FORMAT_VERSION
    assert loaded.get("state") == "running"
    assert same(read_json(path)["summary"], SUMMARY)


def test_numpy_scalars_are_written_as_python_values(tmp_path):
    path = tmp_path / "run.json"
    write_json(path, {"a": np.float32(0.5), "b": np.int64(7), "c": np.float64("nan"),
                      "d": np.bool_(True), "e": np.float32("-inf")})
    back = read_json(path)
    assert back["a"] == 0.5 and back["b"] == 7 and back["d"] is True
    assert math.isnan(back["c"]) and back["e"] == -math.inf
    strict_load(path.read_text())


def test_unknown_fields_are_refused(tmp_path):
    with pytest.raises(KeyError):
        RunMeta(tmp_path / "run.json", {"nope": 1})
    m = RunMeta(tmp_path / "run.json", {"id": "r"})
    with pytest.raises(KeyError):
        m.update(bogus=2)
    assert not (tmp_path / "run.json").exists()
    m.update(**{f: None for f in FIELDS if f != "format_version"})
    assert set(strict_load((tmp_path / "run.json").read_text())) == set(FIELDS)


def test_update_persists_every_change_and_snapshot_is_a_copy(tmp_path):
    path = tmp_path / "run.json"
    m = RunMeta(path, {"id": "r", "state": "running"})
    m.update(summary={"a": 1.0})
    m.update(state="finished", exit_code=0)
    snap = m.snapshot()
    snap["state"] = "changed"
    assert m.get("state") == "finished"
    assert m.get("missing", "dflt") == "dflt"
    assert read_json(path) == {"format_version": FORMAT_VERSION, "id": "r", "state": "finished",
                               "summary": {"a": 1.0}, "exit_code": 0}


def test_write_is_atomic_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "run.json"
    m = RunMeta(path, {"id": "r", "summary": {"a": 1.0}})
    m.update()
    before = path.read_bytes()
    real_dump = json.dump

    def failing_dump(obj, f, **kw):
        f.write('{"format_version": 1, "id": "r", "summ')  # half a file, then a crash
        raise OSError("disk full")

    monkeypatch.setattr(meta.json, "dump", failing_dump)
    with pytest.raises(OSError):
        m.update(summary={"a": 2.0})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]
    monkeypatch.setattr(meta.json, "dump", real_dump)

    published = []
    real_replace = atomic.os.replace

    def checking_replace(src, dst):
        published.append(strict_load(Path(src).read_text(encoding="utf-8")))
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", checking_replace)
    m.update(summary={"a": 3.0})
    assert published and published[0]["summary"] == {"a": 3.0}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_encode_decode_helpers():
    assert encode(math.nan) == {"_nonfinite": "NaN"}
    assert encode((1, 2.0)) == [1, 2.0]
    assert encode({1: "a"}) == {"1": "a"}
    assert decode({"_nonfinite": "-Infinity"}) == -math.inf
    assert decode({"_nonfinite": "Infinity", "other": 1}) == {"_nonfinite": "Infinity", "other": 1}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=6).filter(lambda k: k != "_nonfinite"), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None)
@given(value=json_values)
def test_property_encode_is_strict_json_and_decodes_back(value):
    text = json.dumps(encode({"summary": value}), allow_nan=False)
    assert same(decode(strict_load(text))["summary"], value)


def test_run_states_are_the_strings_run_json_stores(tmp_path):
    from runlake.engine.meta import LIVE_STATES, RunState

    assert [s.value for s in RunState] == [
        "running", "finished", "failed", "crashed", "preempting", "detached"]
    assert RunState.RUNNING == "running" and f"{RunState.CRASHED}" == "crashed"
    assert LIVE_STATES == {"running", "preempting"}
    path = tmp_path / "run.json"
    RunMeta(path, {"state": RunState.PREEMPTING}).update(exit_code=None)
    assert '"state": "preempting"' in path.read_text(encoding="utf-8")
    assert read_json(path)["state"] == RunState.PREEMPTING


@pytest.mark.parametrize("value", [
    {"_nonfinite": "adam"}, {"_nonfinite": "NaN"}, {"_literal": 1}, {"_literal": {"_nonfinite": "NaN"}},
    {"opt": {"_nonfinite": "Infinity"}}, [{"_nonfinite": "-Infinity"}], {"_nonfinite": 1, "b": 2},
])
def test_a_users_dict_shaped_like_a_marker_reads_back_as_it_was(tmp_path, value):
    path = tmp_path / "run.json"
    meta.write_json(path, {"config": {"c": value}, "summary": {"x": float("nan")}})
    got = meta.read_json(path)
    assert got["config"]["c"] == value
    assert math.isnan(got["summary"]["x"])


def test_an_old_run_json_with_an_unescaped_dict_still_decodes(tmp_path):
    path = tmp_path / "run.json"
    path.write_text('{"config": {"optimizer": {"_nonfinite": "adam"}}}')
    assert meta.read_json(path)["config"] == {"optimizer": {"_nonfinite": "adam"}}
