"""What log() stores, read back from the Parquet files with plain pyarrow."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import runlake
from tests.helpers import history, rows


def _one_row(root, data):
    with runlake.init(settings={"root": root}) as run:
        run.log(data)
    table = history(root)
    assert table.num_rows == 1
    return table, table.to_pylist()[0]


def test_python_and_numpy_scalars_keep_value_and_type(root):
    table, row = _one_row(root, {
        "py_float": 0.25, "py_int": 3, "py_bool": True, "py_false": False, "py_str": "héllo",
        "np_f32": np.float32(1.5), "np_f64": np.float64(2.25), "np_i64": np.int64(-7),
        "np_i32": np.int32(12), "np_bool": np.bool_(True), "np_str": np.str_("abc"),
    })
    assert row["py_float"] == 0.25 and row["py_int"] == 3
    assert row["py_bool"] is True and row["py_false"] is False
    assert row["py_str"] == "héllo"
    assert row["np_f32"] == 1.5 and row["np_f64"] == 2.25
    assert row["np_i64"] == -7 and row["np_i32"] == 12
    assert row["np_bool"] is True and row["np_str"] == "abc"
    types = {f.name: f.type for f in table.schema}
    for key in ("py_float", "np_f32", "np_f64"):
        assert types[key] == pa.float64(), key
    for key in ("py_int", "np_i64", "np_i32"):
        assert types[key] == pa.int64(), key
    for key in ("py_bool", "py_false", "np_bool"):
        assert types[key] == pa.bool_(), key
    for key in ("py_str", "np_str"):
        assert pa.types.is_string(types[key]) or pa.types.is_large_string(types[key]), key


def test_nan_and_infinities_are_kept(root):
    _, row = _one_row(root, {
        "nan": float("nan"), "inf": math.inf, "ninf": -math.inf,
        "np_nan": np.float32("nan"), "np_inf": np.float64("inf"),
    })
    assert math.isnan(row["nan"]) and math.isnan(row["np_nan"])
    assert row["inf"] == math.inf and row["np_inf"] == math.inf
    assert row["ninf"] == -math.inf


def test_none_is_a_null_in_the_keys_column(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"a": 1.0, "b": "x"})
        run.log({"a": None, "b": None})
        run.log({"a": 3.0, "b": "z"})
    table = history(root)
    assert table.column("a").to_pylist() == [1.0, None, 3.0]
    assert table.column("b").to_pylist() == ["x", None, "z"]
    assert table.schema.field("a").type == pa.float64()


def test_zero_d_arrays_are_scalars(root):
    table, row = _one_row(root, {
        "f": np.array(2.5), "i": np.array(4), "b": np.array(True), "f32": np.array(1.5, np.float32),
    })
    assert row == {**row, "f": 2.5, "i": 4, "b": True, "f32": 1.5}
    assert table.schema.field("f").type == pa.float64()
    assert table.schema.field("i").type == pa.int64()
    assert table.schema.field("b").type == pa.bool_()


def test_sequences_become_list_columns(root):
    table, row = _one_row(root, {
        "ints": [1, 2, 3], "floats": (0.5, 1), "arr_i": np.arange(3), "arr_f": np.linspace(0, 1, 3),
        "strs": ["a", "b"], "str_tuple": ("x",), "arr_s": np.array(["p", "q"]),
    })
    assert row["ints"] == [1, 2, 3]
    assert row["floats"] == [0.5, 1.0]
    assert row["arr_i"] == [0, 1, 2]
    assert row["arr_f"] == [0.0, 0.5, 1.0]
    assert row["strs"] == ["a", "b"] and row["str_tuple"] == ["x"] and row["arr_s"] == ["p", "q"]
    types = {f.name: f.type for f in table.schema}
    assert types["ints"] == pa.list_(pa.int64())
    assert types["arr_i"] == pa.list_(pa.int64())
    assert types["floats"] == pa.list_(pa.float64())
    assert types["arr_f"] == pa.list_(pa.float64())
    for key in ("strs", "str_tuple", "arr_s"):
        assert pa.types.is_list(types[key]), key
        value_type = types[key].value_type
        assert pa.types.is_string(value_type) or pa.types.is_large_string(value_type), key


def test_lists_with_gaps_and_empty_lists(root):
    table, row = _one_row(root, {"gaps": [1.0, None, 3], "empty": [], "sgaps": ["a", None]})
    assert row["gaps"] == [1.0, None, 3.0]
    assert row["empty"] == []
    assert row["sgaps"] == ["a", None]


def test_int_and_str_subclasses_are_stored_as_their_base_values(root):
    import enum

    class Level(enum.IntEnum):
        HIGH = 3

    class Mode(str, enum.Enum):
        TRAIN = "train"

    table, row = _one_row(root, {
        "level": Level.HIGH, "mode": Mode.TRAIN, "modes": [Mode.TRAIN], Mode.TRAIN: 1.0,
        "nested": {Mode.TRAIN: 2.0},
    })
    assert row["level"] == 3 and table.schema.field("level").type == pa.int64()
    assert row["mode"] == "train" and row["modes"] == ["train"]
    assert row["train"] == 1.0 and row["nested.train"] == 2.0


def test_nested_dicts_are_flattened_with_dots(root):
    _, row = _one_row(root, {"train": {"acc": 0.9, "loss": {"ce": 0.1}}, "top": 1})
    assert row["train.acc"] == 0.9
    assert row["train.loss.ce"] == 0.1
    assert row["top"] == 1
    assert "train" not in row


def test_keys_with_slashes_dots_spaces_and_unicode(root):
    keys = ["train/loss", "a.b", "with space", "ünï/cödé", "数据", "emoji 🚀"]
    _, row = _one_row(root, {k: float(i) for i, k in enumerate(keys)})
    for i, k in enumerate(keys):
        assert row[k] == float(i), k


def test_large_ints_are_not_lost(root):
    """FORMAT.md: ints beyond int64 are stored as float64 rather than dropped or wrapped."""
    _, row = _one_row(root, {"big": 2**70, "small": 1})
    assert row["big"] == float(2**70)
    assert row["small"] == 1


# -- refused values --------------------------------------------------------------------------

class _Thing:
    pass


def _gen():
    yield 1


REFUSED = [
    pytest.param(1, 2.0, ValueError, ["1", "int"], id="non-string key"),
    pytest.param("", 2.0, ValueError, ["empty key"], id="empty key"),
    pytest.param("_private", 2.0, ValueError, ["'_private'", "'_'"], id="underscore key"),
    pytest.param("s", {1, 2}, TypeError, ["'s'", "set"], id="set"),
    pytest.param("o", _Thing(), TypeError, ["'o'", "_Thing"], id="object"),
    pytest.param("g", _gen(), TypeError, ["'g'", "generator"], id="generator"),
    pytest.param("m", np.zeros((2, 2), dtype=complex), TypeError, ["'m'", "(2, 2)", "array"],
                 id="2-d complex array"),
    pytest.param("mix", [1, "a"], TypeError, ["'mix'", "list", "numbers and strings"], id="mixed list"),
    pytest.param("nest", [[1, 2]], TypeError, ["'nest'", "list"], id="nested list"),
    pytest.param("c", 1 + 2j, TypeError, ["'c'", "complex"], id="complex"),
]


@pytest.mark.parametrize("key, value, builtin, words", REFUSED)
def test_refused_value_raises_a_clear_error_and_logs_nothing(root, key, value, builtin, words):
    with runlake.init(settings={"root": root}) as run:
        run.log({"before": 1.0})
        with pytest.raises(builtin) as info:
            run.log({"ok": 2.0, key: value, "also_ok": "yes"})
        assert isinstance(info.value, runlake.Error)
        for word in words:
            assert word in str(info.value), (word, str(info.value))
        assert run.step == 1 and "ok" not in run.summary
        run.log({"after": 3.0})
    assert rows(root) == [{"_step": 0, "before": 1.0}, {"_step": 1, "after": 3.0}]


def test_refused_value_inside_a_nested_dict_refuses_its_siblings_too(root):
    with runlake.init(settings={"root": root}) as run:
        with pytest.raises(runlake.InvalidValueError, match="'outer.bad'"):
            run.log({"outer": {"good": 1, "bad": object()}, "top": 2})
        run.log({"top": 3})
    assert rows(root) == [{"_step": 0, "top": 3}]


def test_several_refused_values_are_all_counted(root):
    with runlake.init(settings={"root": root}) as run:
        with pytest.raises(runlake.Error, match="1 more refused"):
            run.log({"a": {1}, "b": object(), "c": 1.0})
        run.log({"c": 2.0})
    assert rows(root) == [{"_step": 0, "c": 2.0}]


def test_refused_value_with_commit_false_keeps_the_pending_step(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"a": 1.0}, commit=False)
        with pytest.raises(TypeError):
            run.log({"b": 2.0, "bad": {1}}, commit=False)
        run.log({"c": 3.0})
    assert rows(root) == [{"_step": 0, "a": 1.0, "c": 3.0}]


def test_a_refused_call_with_a_later_step_does_not_move_the_step(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"a": 1.0}, commit=False)
        with pytest.raises(TypeError):
            run.log({"bad": {1}}, step=10)
        assert run.step == 0
        run.log({"b": 2.0})
    assert rows(root) == [{"_step": 0, "a": 1.0, "b": 2.0}]


def test_a_step_key_in_the_dict_is_ignored(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"a": 1.0, "_step": 100})
        run.log({"a": 2.0, "_step": 7})
        assert run.step == 2
    assert rows(root) == [{"_step": 0, "a": 1.0}, {"_step": 1, "a": 2.0}]


# -- arrays and long lists --------------------------------------------------------------------

def test_a_small_array_of_any_shape_stays_a_nested_list(root):
    matrix = np.array([[5, 1], [2, 7]])
    cube = np.arange(8, dtype=np.float32).reshape(2, 2, 2) / 2
    with runlake.init(settings={"root": root}) as run:
        run.log({"cm": matrix, "cube": cube, "words": np.array([["a", "b"]])})
        assert run.summary["cm"] == [[5, 1], [2, 7]]
        assert run.summary["cube"] == cube.tolist() and run.summary["words"] == [["a", "b"]]
    row = history(root).to_pylist()[0]
    assert row["cm"] == {"_type": "ndarray", "shape": [2, 2], "value": [[5, 1], [2, 7]]}
    assert row["cube"]["value"] == cube.tolist()
    stored = runlake.Api(root).run(run.path).summary
    assert stored["cm"] == [[5, 1], [2, 7]]


def test_arrays_of_more_than_32_numbers_are_histograms_and_lists_never_are(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"list": list(range(40)), "tuple": tuple(range(33)), "arr": np.arange(40),
                 "flat32": np.arange(32), "grid": np.ones((3, 11))})
    row = history(root).to_pylist()[0]
    assert row["list"] == list(range(40)) and row["tuple"] == list(range(33))
    assert row["flat32"] == list(range(32))
    assert row["arr"]["_type"] == "histogram" and row["grid"]["_type"] == "histogram"


def test_log_needs_a_dict(root):
    with runlake.init(settings={"root": root}) as run:
        with pytest.raises(TypeError, match="dict") as info:
            run.log([("a", 1)])
        assert isinstance(info.value, runlake.Error)


# -- a key whose type changes ---------------------------------------------------------------

def test_float_then_string_goes_to_a_sibling_column(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"loss": 0.5})
        run.log({"loss": "diverged"})
        run.log({"loss": 0.25})
    table = history(root)
    assert table.schema.field("loss").type == pa.float64()
    assert table.column("loss").to_pylist() == [0.5, None, 0.25]
    assert table.column("loss@str").to_pylist() == [None, "diverged", None]


def test_int_then_float_is_promoted_to_float64(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"x": 1})
        run.log({"x": 2.5})
        run.log({"x": 3})
    table = history(root)
    assert table.schema.field("x").type == pa.float64()
    assert table.column("x").to_pylist() == [1.0, 2.5, 3.0]
    assert "x@float" not in table.column_names


def test_int_then_float_across_segments_gives_one_type_in_every_file(root):
    """Segments written before the widening are rewritten at finish."""
    settings = runlake.Settings(segment_bytes=1, wal_interval=0.0)
    with runlake.init(settings=settings.replace(root=root)) as run:
        for i in range(5):
            run.log({"x": i})
            assert run._flush(timeout=30)
        run.log({"x": 0.5})
    files = sorted(root.glob("history/*/*/*/part-*.parquet"))
    assert len(files) >= 2
    for f in files:
        assert pq.read_schema(f).field("x").type == pa.float64(), f.name
    assert history(root).column("x").to_pylist() == [0.0, 1.0, 2.0, 3.0, 4.0, 0.5]
