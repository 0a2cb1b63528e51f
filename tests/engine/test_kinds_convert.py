"""kinds and convert: value kinds -> Arrow types, int overflow, and the schema-evolution rule."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from runlake.engine import kinds
from runlake.engine.buffer import HistoryBuffer
from runlake.engine.convert import RunSchema, chunks_to_table, conform, drop_null_columns
from runlake.engine.kinds import FloatList, IntList, StrList

LIST_STR = pa.list_(pa.large_string())


def convert(rows, schema=None, start_time=0.0):
    """Buffer `rows` (dicts) at steps 0.. and convert them like the writer does."""
    schema = schema if schema is not None else RunSchema()
    buf = HistoryBuffer()
    for row in rows:
        buf.append(tuple(row), row.values(), buf.step)
    return chunks_to_table(buf.take(), schema, start_time), schema


@pytest.mark.parametrize(
    "value, arrow_type",
    [
        (True, pa.bool_()), (np.bool_(False), pa.bool_()),
        (3, pa.int64()), (np.int8(-3), pa.int64()), (np.int16(3), pa.int64()),
        (np.int32(3), pa.int64()), (np.int64(3), pa.int64()), (np.uint8(3), pa.int64()),
        (np.uint16(3), pa.int64()), (np.uint32(3), pa.int64()), (np.uint64(3), pa.int64()),
        (1.5, pa.float64()), (np.float16(1.5), pa.float64()), (np.float32(1.5), pa.float64()),
        (np.float64(1.5), pa.float64()), (np.longdouble(1.5), pa.float64()),
        ("s", pa.large_string()), (np.str_("s"), pa.large_string()),
        (None, pa.null()),
        (IntList((1, None, 3)), pa.list_(pa.int64())),
        (FloatList((1.5, None)), pa.list_(pa.float64())),
        (StrList(("a", None)), LIST_STR),
    ],
)
def test_every_kind_converts_to_its_arrow_type(value, arrow_type):
    kind = kinds.KIND_OF_TYPE[type(value)]
    array, got_kind = kinds.to_arrow([value, value], kind)
    assert got_kind == kind
    assert array.type == arrow_type
    assert kinds.ARROW_TYPE[kind] == arrow_type
    assert kinds.kind_of_arrow(arrow_type) == kind
    expected = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, tuple):
        expected = list(value)
    assert array.to_pylist() == [expected, expected]
    table, _ = convert([{"k": value}, {"k": value}])
    if kind == kinds.NULL:
        assert table.schema.field("k").type == pa.null()
    else:
        assert table.schema.field("k").type == arrow_type
        assert table.column("k").to_pylist() == [expected, expected]


def test_kind_of_arrow_accepts_other_widths():
    assert kinds.kind_of_arrow(pa.int32()) == kinds.INT
    assert kinds.kind_of_arrow(pa.float32()) == kinds.FLOAT
    assert kinds.kind_of_arrow(pa.string()) == kinds.STR
    assert kinds.kind_of_arrow(pa.large_list(pa.int32())) == kinds.LIST_INT
    assert kinds.kind_of_arrow(pa.list_(pa.string())) == kinds.LIST_STR
    with pytest.raises(TypeError):
        kinds.kind_of_arrow(pa.binary())


@pytest.mark.parametrize(
    "values",
    [
        [2**63], [-(2**63) - 1], [1, 2**63, -5], [np.uint64(2**64 - 1)], [np.uint64(2**63)],
        [2**100, 7],
    ],
)
def test_int_overflow_is_stored_as_float64(values):
    array, kind = kinds.to_arrow(values, kinds.INT)
    assert kind == kinds.FLOAT and array.type == pa.float64()
    assert array.to_pylist() == [float(v) for v in values]
    table, _ = convert([{"n": v} for v in values])
    assert table.schema.field("n").type == pa.float64()
    assert table.column("n").to_pylist() == [float(v) for v in values]


def test_int_beyond_float_range_is_stored_as_exact_string():
    huge = 10**400
    array, kind = kinds.to_arrow([huge, 1], kinds.INT)
    assert kind == kinds.STR and array.to_pylist() == [str(huge), "1"]


def test_int64_bounds_stay_int():
    values = [2**63 - 1, -(2**63)]
    array, kind = kinds.to_arrow(values, kinds.INT)
    assert kind == kinds.INT and array.to_pylist() == values


def test_int_list_overflow_is_not_lost():
    values = [IntList((1, 2**70)), IntList((None, 3))]
    array, kind = kinds.to_arrow(values, kinds.LIST_INT)
    assert kind == kinds.LIST_FLOAT
    assert array.type == pa.list_(pa.float64())
    assert array.to_pylist() == [[1.0, float(2**70)], [None, 3.0]]
    table, _ = convert([{"v": v} for v in values])
    assert table.column("v").to_pylist() == [[1.0, float(2**70)], [None, 3.0]]


def test_int_list_beyond_float_range_is_not_lost():
    values = [IntList((1, 10**400)), IntList((None,))]
    array, kind = kinds.to_arrow(values, kinds.LIST_INT)
    assert array.to_pylist() == [["1", str(10**400)], [None]]
    assert kind == kinds.LIST_STR


def test_base_columns():
    table, _ = convert([{"a": 1.0}, {}, {"a": 2.0}], start_time=100.0)
    assert table.column_names[:3] == ["_step", "_runtime", "_timestamp"]
    assert table.schema.field("_step").type == pa.int64()
    assert table.column("_step").to_pylist() == [0, 1, 2]
    ts = table.column("_timestamp").to_pylist()
    rt = table.column("_runtime").to_pylist()
    assert all(math.isclose(r, t - 100.0) for r, t in zip(rt, ts))
    assert table.column("a").to_pylist() == [1.0, None, 2.0]


def test_empty_input_is_an_empty_table_with_the_base_columns():
    table = chunks_to_table([], RunSchema(), 0.0)
    assert table.num_rows == 0
    assert table.column_names == ["_step", "_runtime", "_timestamp"]


def test_int_then_float_widens_to_float64_in_one_conversion():
    table, schema = convert([{"x": 1}, {"x": 2}, {"x": 2.5}, {"x": 3}])
    assert table.schema.field("x").type == pa.float64()
    assert table.column("x").to_pylist() == [1.0, 2.0, 2.5, 3.0]
    assert schema.columns["x"] == kinds.FLOAT and schema.widened == {"x"}
    assert "x@float" not in table.column_names


def test_int_then_float_across_conversions_and_conform():
    first, schema = convert([{"x": 1}, {"x": 2}])
    assert first.schema.field("x").type == pa.int64() and not schema.widened
    second, _ = convert([{"x": 0.5}], schema)
    assert second.schema.field("x").type == pa.float64()
    assert schema.widened == {"x"}
    fixed = conform(first, schema)
    assert fixed.schema.field("x").type == pa.float64()
    assert fixed.column("x").to_pylist() == [1.0, 2.0]
    # float first, int later: the int is stored in the float column, no widening needed
    third, s2 = convert([{"y": 0.5}, {"y": 7}])
    assert third.column("y").to_pylist() == [0.5, 7.0] and not s2.widened


def test_int_list_then_float_list_widens():
    table, schema = convert([{"v": IntList((1, 2))}, {"v": FloatList((0.5,))}])
    assert table.schema.field("v").type == pa.list_(pa.float64())
    assert table.column("v").to_pylist() == [[1.0, 2.0], [0.5]]
    assert schema.widened == {"v"}


@pytest.mark.parametrize(
    "first, later, sibling",
    [
        # families (docs/FORMAT.md): number (bool, int, float), str, list (of numbers), list_str
        (1.5, "high", "loss@str"),
        (2, "high", "loss@str"),
        (True, "a", "loss@str"),
        ("a", 1.5, "loss@number"),
        ("a", 3, "loss@number"),
        ("a", False, "loss@number"),
        (1.5, FloatList((1.0,)), "loss@list"),
        (1.5, StrList(("a",)), "loss@list_str"),
        (StrList(("a",)), IntList((1,)), "loss@list"),
        (IntList((1,)), StrList(("a",)), "loss@list_str"),
        (IntList((1,)), 2.5, "loss@number"),
    ],
)
def test_another_family_goes_to_the_sibling_column(first, later, sibling):
    table, schema = convert([{"loss": first}, {"loss": later}, {"loss": first}])
    assert set(table.column_names) == {"_step", "_runtime", "_timestamp", "loss", sibling}
    norm = lambda v: list(v) if isinstance(v, tuple) else v
    assert table.column("loss").to_pylist() == [norm(first), None, norm(first)]
    side = table.column(sibling).to_pylist()
    assert side[0] is None and side[2] is None
    assert side[1] == norm(later) and type(side[1]) is type(norm(later))
    assert schema.columns["loss"] == kinds.KIND_OF_TYPE[type(first)]


@pytest.mark.parametrize(
    "values, arrow_type, expected",
    [
        ([True, False, 3], pa.int64(), [1, 0, 3]),
        ([True, 2, 0.5], pa.float64(), [1.0, 2.0, 0.5]),
        ([1.5, True, 2], pa.float64(), [1.5, 1.0, 2.0]),
        ([4, False], pa.int64(), [4, 0]),
        ([False, np.bool_(True)], pa.bool_(), [False, True]),
    ],
)
def test_numbers_widen_bool_int_float(values, arrow_type, expected):
    table, _ = convert([{"n": v} for v in values])
    assert table.column_names == ["_step", "_runtime", "_timestamp", "n"]
    assert table.schema.field("n").type == arrow_type
    got = table.column("n").to_pylist()
    assert got == expected and [type(v) for v in got] == [type(v) for v in expected]


def test_bool_column_widened_later_across_conversions():
    first, schema = convert([{"b": True}, {"b": False}])
    assert first.schema.field("b").type == pa.bool_()
    convert([{"b": 7}], schema)
    assert schema.widened == {"b"} and schema.columns["b"] == kinds.INT
    assert conform(first, schema).column("b").to_pylist() == [1, 0]
    convert([{"b": 0.5}], schema)
    assert conform(first, schema).column("b").to_pylist() == [1.0, 0.0]


def test_chained_conflicts_keep_every_value():
    rows = [{"k": 1.0}, {"k": "a"}, {"k": True}, {"k": 2}, {"k": "b"}, {"k": False},
            {"k": None}, {"k": StrList(("x",))}, {"k": IntList((1,))}]
    table, _ = convert(rows)
    assert table.column("k").to_pylist() == [1.0, None, 1.0, 2.0, None, 0.0, None, None, None]
    assert table.column("k@str").to_pylist() == [None, "a", None, None, "b", None, None, None, None]
    assert table.column("k@list_str").to_pylist() == [None] * 7 + [["x"], None]
    assert table.column("k@list").to_pylist() == [None] * 8 + [[1]]


def test_conflicts_across_conversions_keep_their_sibling():
    schema = RunSchema()
    convert([{"k": 1.0}], schema)
    t2, _ = convert([{"k": "x"}], schema)
    t3, _ = convert([{"k": "y"}, {"k": 3.0}], schema)
    assert t2.column("k@str").to_pylist() == ["x"] and "k" not in t2.column_names
    assert t3.column("k@str").to_pylist() == ["y", None]
    assert t3.column("k").to_pylist() == [None, 3.0]


def test_none_is_null_in_the_keys_column():
    table, schema = convert([{"a": None, "b": 1}, {"a": 2.5, "b": None}, {"a": None, "b": 3}])
    assert table.schema.field("a").type == pa.float64()
    assert table.schema.field("b").type == pa.int64()
    assert table.column("a").to_pylist() == [None, 2.5, None]
    assert table.column("b").to_pylist() == [1, None, 3]
    assert set(schema.columns) == {"a", "b"}


def test_none_under_a_string_key_stays_in_that_column():
    schema = RunSchema()
    convert([{"s": "x"}], schema)
    table, _ = convert([{"s": None}], schema)
    assert table.schema.field("s").type == pa.large_string()
    assert table.column("s").to_pylist() == [None]


def test_only_none_is_a_null_column_that_segments_leave_out():
    table, schema = convert([{"a": None, "b": 1.0}, {"a": None, "b": 2.0}])
    assert table.schema.field("a").type == pa.null()
    assert "a" not in schema.columns
    dropped = drop_null_columns(table)
    assert dropped.column_names == ["_step", "_runtime", "_timestamp", "b"]
    # the key can still get any type later
    later, _ = convert([{"a": "s"}], schema)
    assert later.schema.field("a").type == pa.large_string()
    assert conform(table, schema).schema.field("a").type == pa.large_string()


def test_nonfinite_floats_are_kept():
    table, _ = convert([{"f": math.nan}, {"f": math.inf}, {"f": -math.inf}, {"f": -0.0}])
    got = table.column("f").to_pylist()
    assert math.isnan(got[0]) and got[1:3] == [math.inf, -math.inf]
    assert got[3] == 0.0 and math.copysign(1, got[3]) == -1


def test_list_values_become_list_columns():
    rows = [
        {"i": IntList((1, 2, None)), "f": FloatList((0.5, math.inf)), "s": StrList(("a", "b"))},
        {"i": IntList(()), "f": FloatList((None,)), "s": StrList((None, "c"))},
    ]
    table, _ = convert(rows)
    assert table.schema.field("i").type == pa.list_(pa.int64())
    assert table.schema.field("f").type == pa.list_(pa.float64())
    assert table.schema.field("s").type == LIST_STR
    assert table.column("i").to_pylist() == [[1, 2, None], []]
    assert table.column("f").to_pylist() == [[0.5, math.inf], [None]]
    assert table.column("s").to_pylist() == [["a", "b"], [None, "c"]]


def test_run_schema_from_arrow_round_trips():
    table, schema = convert(
        [{"a": 1, "b": "x", "c": True, "d": 0.5, "e": IntList((1,)), "n": None, "a2": 1.0},
         {"a": 2, "b": 3.0, "c": True, "d": 0.5, "e": IntList((1,)), "n": None, "a2": "y"}]
    )
    back = RunSchema.from_arrow(table.schema)
    assert back.columns == schema.columns
    assert "n" not in back.columns and "_step" not in back.columns


def test_widening_ints_beyond_2_53_rounds_instead_of_failing():
    big = [2**53 + 1, 9007199791611902, 2**63 - 1]
    table, schema = convert([{"x": v} for v in big] + [{"x": 0.5}])
    assert table.column("x").to_pylist() == [float(v) for v in big] + [0.5]
    first, schema = convert([{"y": v} for v in big])
    convert([{"y": 0.5}], schema)
    assert conform(first, schema).column("y").to_pylist() == [float(v) for v in big]
    lists, _ = convert([{"v": IntList((2**53 + 1,))}, {"v": FloatList((0.5,))}])
    assert lists.column("v").to_pylist() == [[float(2**53 + 1)], [0.5]]


def test_lone_surrogates_are_stored_backslash_escaped():
    # docs/FORMAT.md: UTF-8 strings; a lone surrogate cannot be encoded, so it is escaped
    table, _ = convert([{"s": "a\ud800b", "l": StrList(("\udfff", "ok"))}, {"s": "é"}])
    assert table.column("s").to_pylist() == ["a\\ud800b", "é"]
    assert table.column("l").to_pylist() == [["\\udfff", "ok"], None]


def test_place_ends_when_the_sibling_name_holds_another_family():
    """A column `loss@str` that holds numbers (a key logged under that name) must not make the
    writer loop: the string goes to the next free sibling name."""
    schema = RunSchema({"loss": kinds.FLOAT, "loss@str": kinds.FLOAT, "loss@@str": kinds.INT})
    assert schema.place("loss", kinds.STR) == ("loss@@@str", kinds.STR)
    assert schema.place("loss", kinds.STR) == ("loss@@@str", kinds.STR)


@settings(max_examples=200)
@given(
    columns=st.dictionaries(
        st.sampled_from(["k", "k@number", "k@str", "k@list", "k@list_str", "k@@str", "k@@number"]),
        st.sampled_from([kinds.BOOL, kinds.INT, kinds.FLOAT, kinds.STR, kinds.LIST_INT,
                         kinds.LIST_FLOAT, kinds.LIST_STR]),
    ),
    kind=st.sampled_from([kinds.BOOL, kinds.INT, kinds.FLOAT, kinds.STR, kinds.LIST_FLOAT,
                          kinds.LIST_STR]),
)
def test_place_always_finds_a_column_of_the_values_family(columns, kind):
    schema = RunSchema(dict(columns))
    name, placed = schema.place("k", kind)
    assert kinds.family(placed) == kinds.family(kind)
    assert schema.columns[name] == placed
    assert name == "k" or name.startswith("k@")
