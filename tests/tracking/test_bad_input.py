"""Bad input: every case either has a storage rule or a clear error (docs/DESIGN.md, "Bad input").

Each case is logged between good steps and read back after finish() with the public reader,
`runlake.Api(root).run(path).history(samples=None, format="polars")`: nothing logged before
(or after) a refused value is lost, and a log() call with one bad value logs nothing (as wandb).
"""

from __future__ import annotations

import datetime
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import runlake
from runlake.errors import InvalidNameError, InvalidValueError
from runlake.tracking.values import MAX_DEPTH

# -- helpers ---------------------------------------------------------------------------------


def read_rows(root: Path, run: runlake.Run) -> list[dict[str, Any]]:
    """The run's history rows without nulls and without _runtime/_timestamp."""
    frame = runlake.Api(root).run(run.path).history(samples=None, format="polars")
    return [
        {k: v for k, v in row.items() if v is not None and k not in ("_runtime", "_timestamp")}
        for row in frame.to_dicts()
    ]


def same(a: Any, b: Any) -> bool:
    """Equality with NaN == NaN, through lists and dicts."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def deep(levels: int) -> dict[str, Any]:
    """{"d": {"d": ... {"v": 1.0}}} with `levels` dicts below the top one."""
    inner: dict[str, Any] = {"v": 1.0}
    for _ in range(levels - 1):
        inner = {"d": inner}
    return inner


def self_containing() -> dict[str, Any]:
    d: dict[str, Any] = {"v": 1.0}
    d["me"] = d
    return d


class Thing:
    def __str__(self) -> str:
        return "thing"


def gen():
    yield 1.0


# -- values and keys that are stored ---------------------------------------------------------

BIG = "x" * (10 << 20)  # 10 MB
LONG_KEY = "k" * 10_000

STORED = [
    # (id, logged dict, the columns it gives at its step)
    ("key with slash dot space unicode", {"train/loss": 1.0, "a.b": 2.0, "with space": 3.0,
                                          "ünï/cödé 数据 🚀": 4.0},
     {"train/loss": 1.0, "a.b": 2.0, "with space": 3.0, "ünï/cödé 数据 🚀": 4.0}),
    ("key of 10,000 characters", {LONG_KEY: 1.0}, {LONG_KEY: 1.0}),
    ("key with @ not as a sibling suffix", {"user@host": 1.0, "a@strx": 2.0}, {"user@host": 1.0, "a@strx": 2.0}),
    ("_ inside a nested key", {"opt": {"_lr": 0.1}}, {"opt._lr": 0.1}),
    ("NaN and infinities", {"nan": math.nan, "inf": math.inf, "ninf": -math.inf,
                            "np_nan": np.float32("nan")},
     {"nan": math.nan, "inf": math.inf, "ninf": -math.inf, "np_nan": math.nan}),
    ("10 MB string", {"s": BIG}, {"s": BIG}),
    ("lone surrogate in a value", {"s": "a\udcffb"}, {"s": "a\\udcffb"}),
    ("int beyond int64", {"big": 2**70}, {"big": float(2**70)}),
    ("nested to the depth limit", {"deep": deep(MAX_DEPTH)},
     {"deep." + "d." * (MAX_DEPTH - 1) + "v": 1.0}),
    ("empty nested dict", {"empty": {}, "ok": 1.0}, {"ok": 1.0}),
    ("0-d arrays", {"f": np.array(2.5), "i": np.array(3), "b": np.array(True)},
     {"f": 2.5, "i": 3, "b": True}),
    ("1-d int array", {"a": np.arange(3, dtype=np.int32)}, {"a": [0, 1, 2]}),
    ("1-d float16 and float32 arrays", {"h": np.array([1.5], np.float16),
                                        "s": np.array([0.25, 2], np.float32)},
     {"h": [1.5], "s": [0.25, 2.0]}),
    ("1-d bool array", {"b": np.array([True, False])}, {"b": [1, 0]}),
    ("1-d string array", {"s": np.array(["a", "bc"])}, {"s": ["a", "bc"]}),
    ("empty 1-d array", {"e": np.array([]), "ok": 1.0}, {"e": [], "ok": 1.0}),
    ("object array of numbers", {"o": np.array([1, 2.5, None], dtype=object)},
     {"o": [1.0, 2.5, None]}),
    ("uint64 beyond int64", {"u": np.uint64(2**64 - 1), "ua": np.array([2**64 - 1], np.uint64)},
     {"u": float(2**64 - 1), "ua": [float(2**64 - 1)]}),
    ("numpy scalars", {"f16": np.float16(0.5), "i8": np.int8(-3), "b": np.bool_(False)},
     {"f16": 0.5, "i8": -3, "b": False}),
]


@pytest.mark.parametrize("data, want", [pytest.param(d, w, id=i) for i, d, w in STORED])
def test_stored_values_read_back(root, data, want):
    with runlake.init(settings={"root": root}) as run:
        run.log({"before": 1.0})
        run.log(data)
        run.log({"after": 2.0})
    got = read_rows(root, run)
    assert got[0] == {"_step": 0, "before": 1.0}
    assert same(got[1], {"_step": 1, **want}), (got[1].keys(), want.keys())
    assert got[2] == {"_step": 2, "after": 2.0}
    assert len(got) == 3


def test_ten_thousand_keys_in_one_step(root):
    keys = [f"layer{j // 100}/w{j % 100}" for j in range(10_000)]
    with runlake.init(settings={"root": root}) as run:
        run.log({"before": 1.0})
        for step in range(3):
            run.log({k: float(j + step) for j, k in enumerate(keys)})
        run.log({"after": 2.0})
    got = read_rows(root, run)
    assert [r["_step"] for r in got] == [0, 1, 2, 3, 4]
    assert got[0] == {"_step": 0, "before": 1.0} and got[4] == {"_step": 4, "after": 2.0}
    for step in range(3):
        assert got[1 + step] == {"_step": 1 + step,
                                 **{k: float(j + step) for j, k in enumerate(keys)}}


def test_a_keys_type_changing_between_steps_goes_to_sibling_columns(root):
    """Numbers widen bool -> int -> float; another family goes to `<key>@<family>`."""
    with runlake.init(settings={"root": root}) as run:
        for value in (True, 2, 2.5, "nan?", [1, 2], ["a"], None, 3.0):
            run.log({"x": value})
    frame = runlake.Api(root).run(run.path).history(samples=None, format="polars")
    assert str(frame.schema["x"]) == "Float64"
    assert frame["x"].to_list() == [1.0, 2.0, 2.5, None, None, None, None, 3.0]
    assert frame["x@str"].to_list() == [None, None, None, "nan?", None, None, None, None]
    assert frame["x@list"].to_list()[4] == [1, 2]
    assert frame["x@list_str"].to_list()[5] == ["a"]


def test_a_key_named_like_a_sibling_column_never_hangs_the_writer(root):
    """`loss@str` is refused, and a string under the float key `loss` still has its column."""
    with runlake.init(settings={"root": root}) as run:
        run.log({"loss": 1.0})
        with pytest.raises(InvalidNameError):
            run.log({"loss@str": 5})
        run.log({"loss": "diverged", "x@y": 1.0})
    assert run.status().rows_durable == 2  # the refused call logged no row
    frame = runlake.Api(root).run(run.path).history(samples=None, format="polars")
    assert frame["loss@str"].to_list() == [None, "diverged"]
    assert frame["x@y"].to_list() == [None, 1.0]


# -- values and keys that are refused --------------------------------------------------------

REFUSED = [
    # (id, key, value, error class, words the message must hold)
    ("non-string key", 1, 2.0, InvalidNameError, ["1", "int", "str()"]),
    ("tuple key", ("a", 1), 2.0, InvalidNameError, ["('a', 1)", "tuple"]),
    ("empty key", "", 2.0, InvalidNameError, ["empty key"]),
    ("reserved _ key", "_runtime", 2.0, InvalidNameError, ["'_runtime'", "reserves"]),
    ("lone surrogate key", "a\ud800", 2.0, InvalidNameError, ["'a\\ud800'", "Unicode"]),
    ("sibling-column key", "loss@str", 5, InvalidNameError, ["'loss@str'", "'@str'", "'loss_str'"]),
    ("key with NUL", "a\x00b", 1.0, InvalidNameError, ["'a\\x00b'", "NUL"]),
    ("nested key with NUL", "a", {"b\x00": 1.0}, InvalidNameError, ["NUL"]),
    ("partition column key", "run_id", "x", InvalidNameError, ["'run_id'", "'run_id_'"]),
    ("partition column key entity", "entity", 1, InvalidNameError, ["'entity'"]),
    ("partition column key project", "project", 1, InvalidNameError, ["'project'"]),
    ("sibling-column key, nested", "a", {"b@number": 1}, InvalidNameError, ["'a.b@number'"]),
    ("object", "o", Thing(), InvalidValueError, ["'o'", "Thing"]),
    ("set", "s", {1, 2}, InvalidValueError, ["'s'", "set"]),
    ("generator", "g", gen(), InvalidValueError, ["'g'", "generator"]),
    ("bytes", "b", b"abc", InvalidValueError, ["'b'", "bytes"]),
    ("datetime", "t", datetime.datetime(2024, 1, 1), InvalidValueError, ["'t'", "datetime"]),
    ("complex", "c", 1 + 2j, InvalidValueError, ["'c'", "complex"]),
    ("nested list", "n", [[1, 2]], InvalidValueError, ["'n'", "list"]),
    ("list mixing numbers and strings", "m", [1, "a"], InvalidValueError,
     ["'m'", "numbers and strings"]),
    ("complex array", "c", np.array([1j]), InvalidValueError, ["'c'", "complex"]),
    ("2-d complex array", "c", np.ones((2, 2)) * 1j, InvalidValueError, ["'c'", "(2, 2)", "ravel"]),
    ("complex numpy scalar", "c", np.complex64(1j), InvalidValueError, ["'c'", "complex"]),
    ("datetime64 array", "t", np.array(["2024-01-01"], dtype="datetime64[ns]"),
     InvalidValueError, ["'t'", "datetime64[ns]", "str(t)"]),
    ("datetime64 0-d array", "t", np.array(np.datetime64("2024-01-01T00:00:00.000000001")),
     InvalidValueError, ["'t'", "datetime64[ns]"]),
    ("datetime64 scalar", "t", np.datetime64("2024-01-01"), InvalidValueError,
     ["'t'", "datetime64[D]"]),
    ("timedelta64", "t", np.timedelta64(3, "s"), InvalidValueError, ["'t'", "timedelta64[s]"]),
    ("object array of objects", "o", np.array([Thing()], dtype=object), InvalidValueError,
     ["'o'", "Thing"]),
    ("object 0-d array", "o", np.array(Thing(), dtype=object), InvalidValueError,
     ["'o'", "Thing"]),
    ("bytes array", "b", np.array([b"a"]), InvalidValueError, ["'b'", "bytes"]),
    ("dict nested too deep", "deep", deep(MAX_DEPTH + 1), InvalidValueError,
     ["'deep.d.d", f"more than {MAX_DEPTH} levels"]),
    ("dict that contains itself", "loop", self_containing(), InvalidValueError,
     ["'loop.me'", "contains itself"]),
]


@pytest.mark.parametrize("key, value, error, words",
                         [pytest.param(k, v, e, w, id=i) for i, k, v, e, w in REFUSED])
def test_a_refused_value_logs_nothing_of_its_call_and_keeps_everything_before(
    root, key, value, error, words
):
    with runlake.init(settings={"root": root}) as run:
        run.log({"before": 1.0})
        with pytest.raises(error) as info:
            run.log({"ok": 2.0, key: value, "also_ok": "yes"})
        assert isinstance(info.value, runlake.Error)
        for word in words:
            assert word in str(info.value), (word, str(info.value))
        assert "nothing of this log() call was logged" in str(info.value)
        run.log({"after": 3.0})
    assert read_rows(root, run) == [{"_step": 0, "before": 1.0}, {"_step": 1, "after": 3.0}]


def test_a_key_given_twice_by_flattening_is_refused(root):
    with runlake.init(settings={"root": root}) as run:
        with pytest.raises(InvalidNameError, match="'a.b' is given twice"):
            run.log({"a.b": 1.0, "a": {"b": 2.0, "c": 3.0}})
        run.log({"a.b": 1.0})
    assert read_rows(root, run) == [{"_step": 0, "a.b": 1.0}]


def test_every_refused_value_of_a_call_is_counted_and_nothing_kept(root):
    with runlake.init(settings={"root": root}) as run:
        with pytest.raises(InvalidValueError, match=r"'a'.*\(2 more refused\)"):
            run.log({"a": [{1}], "b": object(), "ok": 1.0, "c": np.zeros((2, 2)) * 1j})
        assert run.step == 0 and "ok" not in run.summary
        run.log({"ok": 2.0})
    assert read_rows(root, run) == [{"_step": 0, "ok": 2.0}]


@pytest.mark.parametrize("bad", [object(), "text", {1}, None], ids=["object", "str", "set", "None"])
def test_a_bad_value_after_fast_path_rows_takes_the_checked_path(root, bad):
    """Rows shaped like the last one skip normalising; a bad value must still be refused."""
    with runlake.init(settings={"root": root}) as run:
        for i in range(3):
            run.log({"x": float(i), "s": "a"})
        if bad is None or isinstance(bad, str):  # storable: a null / a sibling column
            run.log({"x": bad, "s": "a"})
        else:
            with pytest.raises(InvalidValueError, match="'x'"):
                run.log({"x": bad, "s": "a"})
        run.log({"x": 9.0, "s": "a"})
    rows = read_rows(root, run)
    stored = bad is None or isinstance(bad, str)  # a refused call logs no row
    assert [r["_step"] for r in rows] == ([0, 1, 2, 3, 4] if stored else [0, 1, 2, 3])
    assert [r.get("x") for r in rows] == [0.0, 1.0, 2.0, None, 9.0][:len(rows) - 1] + [9.0]
    assert all(r["s"] == "a" for r in rows)
    if isinstance(bad, str):
        assert rows[3]["x@str"] == "text"


# -- the step argument -----------------------------------------------------------------------

BAD_STEPS = [
    pytest.param(-1, ["-1", ">= 0"], id="negative"),
    pytest.param(1.0, ["float", "1.0"], id="float"),
    pytest.param(np.float64(2.0), ["float64"], id="numpy float"),
    pytest.param(True, ["bool", "True"], id="bool"),
    pytest.param("3", ["str", "'3'"], id="str"),
    pytest.param(None, [], id="None is no step"),
    pytest.param(2**63, ["9223372036854775808", "int64"], id="beyond int64"),
]


@pytest.mark.parametrize("step, words", BAD_STEPS)
def test_a_bad_step_refuses_the_call_and_keeps_everything_else(root, step, words):
    with runlake.init(settings={"root": root}) as run:
        run.log({"before": 1.0})
        if step is None:
            run.log({"ok": 2.0}, step=step)  # None means "the run's own counter"
        else:
            with pytest.raises(InvalidValueError) as info:
                run.log({"ok": 2.0}, step=step)
            assert isinstance(info.value, (TypeError, ValueError))  # old `except`s still work
            for word in ["step", *words]:
                assert word in str(info.value), (word, str(info.value))
        run.log({"after": 3.0})
    rows = read_rows(root, run)
    want = [{"_step": 0, "before": 1.0}, {"_step": 1, "after": 3.0}]
    if step is None:
        want = [want[0], {"_step": 1, "ok": 2.0}, {"_step": 2, "after": 3.0}]
    assert rows == want


def test_a_negative_step_is_still_a_value_error(root):
    with runlake.init(settings={"root": root}) as run, pytest.raises(ValueError, match=">= 0"):
        run.log({"a": 1.0}, step=-5)


def test_numpy_integer_steps_are_steps(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"a": 1.0}, step=np.int64(5))
        run.log({"a": 2.0}, step=np.uint8(7))
    assert read_rows(root, run) == [{"_step": 5, "a": 1.0}, {"_step": 7, "a": 2.0}]


def test_the_last_int64_step_is_logged_and_the_counter_then_stops(root):
    last = 2**63 - 1
    with runlake.init(settings={"root": root}) as run:
        run.log({"a": 1.0})
        run.log({"a": 2.0}, step=last)
        run.log({"b": 3.0})  # joins step `last` (a step= row stays open) and commits it
        for commit in (None, False, True):
            with pytest.raises(InvalidValueError, match="past 2\\*\\*63 - 1"):
                run.log({"a": 4.0}, commit=commit)  # step 2**63: int64 can't hold it
        with pytest.warns(UserWarning, match="less than the current step"):
            run.log({"a": 5.0}, step=5)
    assert read_rows(root, run) == [{"_step": 0, "a": 1.0}, {"_step": last, "a": 2.0, "b": 3.0}]


# -- config ----------------------------------------------------------------------------------

# Sanitised as wandb's config does: one odd value never refuses the rest of the update.
ODD_CONFIG = [
    pytest.param({"obj": Thing()}, {"obj": "thing"}, id="object"),
    pytest.param({"s": {2, 1}}, {"s": [1, 2]}, id="set"),
    pytest.param({"f": len}, {"f": "builtins.len"}, id="function"),
    pytest.param({"b": b"x"}, {"b": "x"}, id="bytes"),
    pytest.param({"c": 1j}, {"c": "1j"}, id="complex"),
    pytest.param({"t": datetime.date(2024, 1, 1)}, {"t": "2024-01-01"}, id="date"),
    pytest.param({"t": np.array(["2024-01-01"], dtype="datetime64[D]")}, {"t": ["2024-01-01"]},
                 id="datetime64 array"),
    pytest.param({"t": np.datetime64("2024-01-01")}, {"t": "2024-01-01"}, id="datetime64"),
    pytest.param({"c": np.complex64(1j)}, {"c": "1j"}, id="numpy complex"),
    pytest.param({"opt": {"inner": Thing()}}, {"opt": {"inner": "thing"}}, id="nested object"),
    pytest.param({"l": [1, Thing()]}, {"l": [1, "thing"]}, id="object in a list"),
    pytest.param({"m": {1: "a"}}, {"m": {"1": "a"}}, id="nested int key"),
]

BAD_CONFIG = [
    pytest.param({1: "a"}, ["1", "must be strings"], id="int key"),
    pytest.param({"": "a"}, ["''", "empty"], id="empty key"),
    pytest.param({"loop": self_containing()}, ["'loop.me.me", "contains itself"],
                 id="dict that contains itself"),
    pytest.param({"deep": deep(100)}, ["'deep.d.d", "levels deep"], id="too deep"),
]


@pytest.mark.parametrize("config, stored", ODD_CONFIG)
def test_odd_config_values_are_stored_as_wandb_sanitises_them(root, config, stored):
    with runlake.init(settings={"root": root}, config={"lr": 0.1, **config}) as run:
        run.config.update({"ok": 1, **{f"later_{k}": v for k, v in config.items()}})
    assert runlake.Api(root).run(run.path).config == {
        "lr": 0.1, "ok": 1, **stored, **{f"later_{k}": v for k, v in stored.items()}}


@pytest.mark.parametrize("config, words", BAD_CONFIG)
def test_config_that_cant_be_stored_is_refused_at_init_before_anything_is_made(root, config,
                                                                                words):
    with pytest.raises(runlake.Error) as info:
        runlake.init(settings={"root": root}, config=config)
    for word in words:
        assert word in str(info.value), (word, str(info.value))
    assert runlake.run is None
    assert not root.exists() or not any(root.rglob("run.json"))


@pytest.mark.parametrize("config, words", BAD_CONFIG)
def test_a_refused_config_update_mid_run_changes_nothing(root, config, words):
    with runlake.init(settings={"root": root}, config={"lr": 0.1}) as run:
        run.log({"before": 1.0})
        with pytest.raises(runlake.Error):
            run.config.update({"ok": 1, **config})
        run.log({"after": 2.0})
    api_run = runlake.Api(root).run(run.path)
    assert api_run.config == {"lr": 0.1}  # an update is all or nothing
    assert read_rows(root, run) == [{"_step": 0, "before": 1.0}, {"_step": 1, "after": 2.0}]


def test_config_values_json_lacks_are_stored_and_read_back(root):
    config = {"nan": math.nan, "inf": math.inf, "arr": np.arange(3), "f32": np.float32(0.5),
              "text": "a\udcffb", "path": Path("/data/x"), "nested": {"_private": 1}}
    with runlake.init(settings={"root": root}, config=config) as run:
        run.log({"a": 1.0})
    got = runlake.Api(root).run(run.path).config
    assert math.isnan(got.pop("nan"))
    assert got == {"inf": math.inf, "arr": [0, 1, 2], "f32": 0.5, "text": "a\\udcffb",
                   "path": "/data/x", "nested": {"_private": 1}}


# -- names and ids ---------------------------------------------------------------------------

BAD_NAMES = ["..", "../up", "a/b", "/abs", "a\x00b", "n" * 10_000, ".hidden", "-x", "a b"]


@pytest.mark.parametrize("field", ["project", "entity", "id"])
@pytest.mark.parametrize("value", BAD_NAMES, ids=["dotdot", "dotdot-slash", "slash", "absolute",
                                                  "NUL", "10000-chars", "dot-first",
                                                  "dash-first", "space"])
def test_path_names_that_are_not_safe_are_refused_and_nothing_is_written(
    root, tmp_path, field, value
):
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(InvalidNameError) as info:
        runlake.init(settings={"root": root}, **{field: value})
    message = str(info.value)
    assert ("run id" if field == "id" else field) in message
    assert len(message) < 400  # a 10,000-character name is shortened in the message
    assert runlake.run is None
    assert not root.exists() or not any(root.rglob("*.json"))
    assert sorted(p.name for p in tmp_path.iterdir()) in (before, sorted([*before, "store"]))


LABELS = ["..", "../../etc/passwd", "a/b", "a\x00b", "z" * 10_000, "ünï 🚀", "a\udcffb"]


@pytest.mark.parametrize("value", LABELS, ids=["dotdot", "traversal", "slash", "NUL",
                                               "10000-chars", "unicode", "lone-surrogate"])
def test_display_names_group_job_type_notes_and_tags_are_stored_as_given(root, value):
    """They are never part of a path, so any text is safe and is kept (lone surrogates are
    backslash-escaped, as in history)."""
    with runlake.init(settings={"root": root}, name=value, group=value, job_type=value, notes=value,
                      tags=[value, "plain"]) as run:
        run.log({"a": 1.0})
    stored = value.encode("utf-8", "backslashreplace").decode("utf-8")
    got = runlake.Api(root).run(run.path)
    assert (got.name, got.group, got.job_type, got.notes) == (stored,) * 4
    assert got.tags == [stored, "plain"]
    assert read_rows(root, run) == [{"_step": 0, "a": 1.0}]
    assert [p.name for p in (root / "runs").iterdir()] == ["entity=local"]


@pytest.mark.parametrize("field, value, words", [
    ("name", 5, ["init(name=...)", "int"]),
    ("group", ["g"], ["init(group=...)", "list"]),
    ("job_type", b"train", ["init(job_type=...)", "bytes"]),
    ("notes", 1.5, ["init(notes=...)", "float"]),
    ("tags", "one", ["init(tags=...)", "str", "['one']"]),
    ("tags", [1], ["init(tags=...)", "int"]),
    ("tags", 7, ["init(tags=...)", "int"]),
])
def test_names_and_tags_of_the_wrong_type_are_refused_at_init(root, field, value, words):
    with pytest.raises(InvalidValueError) as info:
        runlake.init(settings={"root": root}, **{field: value})
    for word in words:
        assert word in str(info.value), (word, str(info.value))
    assert not root.exists() or not any(root.rglob("*.json"))


@pytest.mark.parametrize("field, value", [("name", 5), ("group", ["g"]), ("job_type", 1.0),
                                          ("notes", object()), ("tags", "one"), ("tags", [None])])
def test_a_refused_setter_mid_run_keeps_the_run_going(root, field, value):
    with runlake.init(settings={"root": root}, name="n", tags=["t"]) as run:
        run.log({"before": 1.0})
        with pytest.raises(InvalidValueError, match=f"run.{field}"):
            setattr(run, field, value)
        run.log({"after": 2.0})
    got = runlake.Api(root).run(run.path)
    assert got.name == "n" and got.tags == ["t"]
    assert read_rows(root, run) == [{"_step": 0, "before": 1.0}, {"_step": 1, "after": 2.0}]


# -- define_metric ---------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, words", [
    ({"name": ""}, InvalidNameError, ["non-empty string"]),
    ({"name": 3}, InvalidNameError, ["int"]),
    ({"name": "m", "summary": "median"}, InvalidValueError, ["'median'"]),
    ({"name": "m", "summary": 5}, InvalidValueError, ["int"]),
    ({"name": "m", "goal": "up"}, InvalidValueError, ["'m'", "'up'"]),
    ({"name": "m", "summary": "best"}, InvalidValueError, ["'m'", "goal"]),
    ({"name": "m", "step_metric": 4}, InvalidValueError, ["'m'", "int"]),
])
def test_define_metric_errors_are_runlake_errors(root, kwargs, error, words):
    with runlake.init(settings={"root": root}) as run:
        run.log({"before": 1.0})
        with pytest.raises(error) as info:
            run.define_metric(**kwargs)
        assert isinstance(info.value, ValueError)  # as before: `except ValueError` works
        for word in words:
            assert word in str(info.value), (word, str(info.value))
        run.log({"after": 2.0})
    assert read_rows(root, run) == [{"_step": 0, "before": 1.0}, {"_step": 1, "after": 2.0}]


def test_a_decimal_that_has_no_float_names_its_key(root):
    import decimal

    with runlake.init(settings={"root": root}) as run:
        with pytest.raises(InvalidValueError, match=r"key 'x': the Decimal Decimal\('sNaN'\)"):
            run.log({"x": decimal.Decimal("sNaN"), "ok": 1.0})
        run.log({"d": decimal.Decimal("2.5")})
    rows = runlake.Api(root).run(run.path).history(samples=None, format="records")
    assert len(rows) == 1 and rows[0]["d"] == 2.5


def test_a_key_differing_only_in_case_from_a_logged_key_is_refused(root):
    """DuckDB reads column names without case: `Loss` beside `loss` would be one column."""
    with runlake.init(settings={"root": root}) as run:
        run.log({"loss": 1.0})
        with pytest.raises(InvalidNameError, match="'Loss' differs from the key 'loss'"):
            run.log({"Loss": 2.0, "acc": 0.5})
        run.log({"loss": 3.0, "b": {"X": 1}})
        with pytest.raises(InvalidNameError, match="'b.x' differs"):
            run.log({"b": {"x": 1}}, step=5)
    frame = runlake.Api(root).run(run.path).history(samples=None, format="polars")
    assert "Loss" not in frame.columns and "acc" not in frame.columns
    with runlake.init(settings={"root": root}, id=run.id, resume="must") as again:  # a resumed run remembers
        with pytest.raises(InvalidNameError, match="'LOSS' differs"):
            again.log({"LOSS": 1.0})
