"""engine/union.store_renames: one family per name across the files of many runs."""

from __future__ import annotations

import pyarrow as pa

from runlake.engine.union import renamed, store_renames


def schema(**cols):
    return pa.schema([("_step", pa.int64()), *cols.items()])


def test_a_store_of_one_family_per_name_needs_no_renames():
    got = store_renames([schema(lr=pa.float64()), schema(lr=pa.int64(), b=pa.string())])
    assert got == [{}, {}]


def test_the_minority_family_reads_as_a_sibling_column():
    schemas = [schema(lr=pa.float64()), schema(lr=pa.float64()), schema(lr=pa.list_(pa.float64()))]
    assert store_renames(schemas) == [{}, {}, {"lr": "lr@list"}]


def test_a_claim_decides_before_the_majority():
    schemas = [schema(lr=pa.float64()), schema(lr=pa.float64()), schema(lr=pa.string())]
    assert store_renames(schemas, {"lr": "str"}) == [{"lr": "lr@number"}, {"lr": "lr@number"}, {}]


def test_case_twins_of_two_families_are_two_columns():
    got = store_renames([schema(Loss=pa.float64()), schema(loss=pa.string())])
    assert got == [{}, {"loss": "loss@str"}]


def test_partition_names_and_taken_targets():
    got = store_renames([schema(run_id=pa.string(), Project=pa.int64()),
                         schema(x=pa.float64()), schema(x=pa.float64()),
                         schema(x=pa.string(), **{"x@str": pa.string()})])
    assert got[0] == {"run_id": "run_id@key", "Project": "Project@key"}
    assert got[3] == {"x": "x@str@str"}  # x@str is that file's own column already
    assert renamed(schema(run_id=pa.string()), got[0]).names == ["_step", "run_id@key"]


def test_base_and_all_null_columns_are_never_moved():
    got = store_renames([schema(a=pa.null()), schema(a=pa.string()), pa.schema([("_step", pa.float64())])])
    assert got == [{}, {}, {}]
