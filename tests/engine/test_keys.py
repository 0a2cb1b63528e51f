"""engine/keys.py: the store-wide family of each key's bare column, so that runs logging one key
with different types still read as one table in any engine."""

from __future__ import annotations

import json
import threading

import duckdb
import polars as pl
import pytest

import runlake
from runlake.engine import keys
from runlake.engine.convert import RunSchema
from runlake.engine import kinds


def test_the_first_claim_wins_and_later_ones_are_told(tmp_path):
    a, b = keys.KeyFamilies(tmp_path), keys.KeyFamilies(tmp_path / ".." / tmp_path.name)
    assert a.owner("lr", "number") == "number"
    keys._cache.clear()  # as another process would see it
    assert b.owner("lr", "list") == "number"
    stored = json.loads(keys.claim_path(tmp_path, "lr").read_text())
    assert stored == {"key": "lr", "family": "number"}
    assert not [p for p in keys.folder(tmp_path).rglob(".tmp-*")]


def test_concurrent_claims_agree_on_one_family(tmp_path):
    keys._cache.clear()
    got: list[str] = []

    def claim(family: str) -> None:
        got.append(keys.KeyFamilies(tmp_path)._claim("k", family))

    threads = [threading.Thread(target=claim, args=(f,)) for f in ["number", "str", "list"] * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 1


def test_an_unwritable_store_keeps_the_runs_own_rule(tmp_path):
    keys._cache.clear()
    (tmp_path / "keys").write_text("not a folder")
    assert keys.KeyFamilies(tmp_path).owner("x", "str") == "str"


def test_a_schema_puts_a_key_owned_by_another_family_in_its_sibling_from_the_start():
    schema = RunSchema()
    schema.owner = lambda key, family: "number"
    assert schema.place("lr", kinds.LIST_FLOAT) == ("lr@list", kinds.LIST_FLOAT)
    assert schema.place("lr", kinds.FLOAT) == ("lr", kinds.FLOAT)  # the owner's family: bare
    assert schema.place("lr", kinds.LIST_INT) == ("lr@list", kinds.LIST_FLOAT)


VALUES = {
    "float": 0.5, "int": 3, "bool": True, "str": "s", "list": [1.0, 2.0], "list_str": ["a"],
    "histogram": runlake.Histogram([1, 2, 3]),
}


@pytest.mark.parametrize("first", list(VALUES))
def test_runs_logging_one_key_with_every_type_read_as_one_table_everywhere(tmp_path, first):
    """Whatever type the store's first run gave `k`, later runs with other types keep the
    store readable by plain DuckDB, polars, api.sql and Api.history."""
    keys._cache.clear()
    root = tmp_path / "store"
    order = [first, *(v for v in VALUES if v != first)]
    for name in order:
        with runlake.init(dir=root, project="p") as run:
            run.log({"k": VALUES[name], "step": 1.0})
    files = f"{root}/history/**/*.parquet"
    rows = duckdb.sql(f"SELECT * FROM read_parquet('{files}', hive_partitioning=true, "
                      "union_by_name=true)").fetchall()
    assert len(rows) == len(VALUES)
    api = runlake.Api(root)
    assert len(api.sql("SELECT * FROM history").fetchall()) == len(VALUES)
    frame = api.history("p").collect()
    assert frame.height == len(VALUES)
    # plain polars: one frame per file, concatenated by name (types relaxed within a family)
    parts = [pl.read_parquet(f) for f in sorted((root / "history").rglob("*.parquet"))]
    assert pl.concat(parts, how="diagonal_relaxed").height == len(VALUES)
