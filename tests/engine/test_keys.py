"""engine/keys.py: the store-wide family of each key's bare column, so that runs logging one key
with different types still read as one table in any engine."""

from __future__ import annotations

import json

import duckdb
import polars as pl
import pytest

import runlake
from runlake.engine import keys
from runlake.engine.convert import RunSchema
from runlake.engine import kinds


def _forget(root) -> None:
    """As another process would start: nothing known of the store."""
    keys._known.clear()
    keys._read_to.clear()


def test_the_first_claim_wins_and_later_ones_are_told(tmp_path):
    _forget(tmp_path)
    assert keys.KeyFamilies(tmp_path).owner("lr", "number") == "number"
    _forget(tmp_path)
    assert keys.KeyFamilies(tmp_path).owner("lr", "list") == "number"
    lines = keys.claims_file(tmp_path).read_text().splitlines()
    assert [json.loads(x) for x in lines] == [{"key": "lr", "family": "number"}]


def test_one_claim_takes_many_keys_and_reads_what_others_appended(tmp_path):
    _forget(tmp_path)
    mine = keys.KeyFamilies(tmp_path)
    mine.claim({"a": "number", "b": "str"})
    with open(keys.claims_file(tmp_path), "a") as f:  # another process, meanwhile
        f.write(json.dumps({"key": "c", "family": "list"}) + "\n")
    mine.claim({"c": "number", "d": "ref"})
    assert [mine.owner(k, "number") for k in "abcd"] == ["number", "str", "list", "ref"]
    assert len(keys.claims_file(tmp_path).read_text().splitlines()) == 4


def test_a_torn_last_line_claims_nothing_and_is_ended_before_the_next(tmp_path):
    _forget(tmp_path)
    path = keys.claims_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"key": "a", "family": "str"}) + "\n" + '{"key": "b", "fam')
    fam = keys.KeyFamilies(tmp_path)
    assert fam.owner("b", "number") == "number"
    _forget(tmp_path)
    again = keys.KeyFamilies(tmp_path)
    assert (again.owner("a", "number"), again.owner("b", "list")) == ("str", "number")


def test_concurrent_claims_agree_on_one_family(tmp_path):
    _forget(tmp_path)
    script = (
        "import sys\nfrom pathlib import Path\nfrom runlake.engine import keys\n"
        "print(keys.KeyFamilies(Path(sys.argv[1])).owner('k', sys.argv[2]))\n"
    )
    import subprocess
    import sys

    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), fam],
                              stdout=subprocess.PIPE, text=True)
             for fam in ["number", "str", "list", "ref"] * 2]
    got = {p.communicate(timeout=120)[0].strip() for p in procs}
    assert len(got) == 1


def test_an_unwritable_store_keeps_the_runs_own_rule(tmp_path):
    _forget(tmp_path)
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
    _forget(tmp_path)
    root = tmp_path / "store"
    order = [first, *(v for v in VALUES if v != first)]
    for name in order:
        with runlake.init(settings={"root": root}, project="p") as run:
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


def test_keys_differing_only_in_case_share_one_family(tmp_path):
    """DuckDB reads `A` and `a` as one column: a list under `A` beside a bool under `a` in
    another run made every whole-store query fail."""
    _forget(tmp_path)
    fam = keys.KeyFamilies(tmp_path)
    assert fam.owner("a", "number") == "number"
    _forget(tmp_path)
    assert keys.KeyFamilies(tmp_path).owner("A", "list") == "number"
