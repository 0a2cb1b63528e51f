"""Stores written before key families were store-wide (runs that typed one key differently,
case twins of two families, keys named like a partition) and stores whose path holds glob
characters read with api.sql and Api.history."""

from __future__ import annotations

import glob

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runlake
from runlake.engine import keys as key_families

ARRAYS = {
    "number": lambda n: pa.array([float(i) for i in range(n)]),
    "int": lambda n: pa.array(list(range(n))),
    "bool": lambda n: pa.array([i % 2 == 0 for i in range(n)]),
    "str": lambda n: pa.array([f"s{i}" for i in range(n)]),
    "list": lambda n: pa.array([[float(i)] for i in range(n)]),
    "list_str": lambda n: pa.array([[f"t{i}"] for i in range(n)]),
}


def old_run(root, project, rid, columns: dict[str, pa.Array], rows=2):
    """A run written by runlake whose segment is then replaced by one of an older writer."""
    key_families._known.clear()
    key_families._read_to.clear()
    with runlake.init(project=project, id=rid,
                      settings=runlake.Settings(root=str(root), quiet=True, system_metrics=False)) as run:
        for _ in range(rows):
            run.log({"z": 1.0})
    [f] = glob.glob(f"{root}/history/*/project={project}/run_id={rid}/*.parquet")
    t = pq.read_table(f).select(["_step", "_runtime", "_timestamp"])
    for k, v in columns.items():
        t = t.append_column(k, v)
    pq.write_table(t, f)
    (root / "keys" / "claims.jsonl").unlink(missing_ok=True)  # the older writer had none


@pytest.fixture
def old_store(root):
    old_run(root, "p", "a", {"lr": ARRAYS["number"](2), "Loss": ARRAYS["number"](2)})
    old_run(root, "p", "b", {"lr": ARRAYS["list"](2), "loss": ARRAYS["str"](2)})
    old_run(root, "p", "c", {"lr": ARRAYS["str"](2), "run_id": pa.array(["evil"] * 2),
                             "project": pa.array([1, 2])})
    return root


def test_api_sql_reads_an_old_store_with_one_family_per_column(old_store):
    api = runlake.Api(root=old_store)
    rel = api.sql('SELECT run_id, project, lr, "lr@list", "lr@str", "loss@str", "run_id@key",'
                  ' "project@key" FROM history ORDER BY run_id, _step')
    assert rel.fetchall() == [
        ("a", "p", 0.0, None, None, None, None, None), ("a", "p", 1.0, None, None, None, None, None),
        ("b", "p", None, [0.0], None, "s0", None, None), ("b", "p", None, [1.0], None, "s1", None, None),
        ("c", "p", None, None, "s0", None, "evil", 1), ("c", "p", None, None, "s1", None, "evil", 2),
    ]
    # A query naming run c reads it as the whole store's view does (not narrowed to its files).
    assert api.sql('SELECT "lr@str", "run_id@key" FROM history WHERE run_id = ?',
                   ["c"]).fetchall() == [("s0", "evil"), ("s1", "evil")]


def test_api_history_reads_an_old_store_as_api_sql_does(old_store):
    df = runlake.Api(root=old_store).history("p").collect().sort("run_id", "_step")
    assert df["run_id"].to_list() == ["a", "a", "b", "b", "c", "c"]
    assert df["lr"].to_list() == [0.0, 1.0, None, None, None, None]
    assert df["lr@list"].to_list()[2:4] == [[0.0], [1.0]]
    assert df["lr@str"].to_list()[4:] == ["s0", "s1"]
    assert df["run_id@key"].to_list()[4:] == ["evil", "evil"]
    assert df["project"].to_list() == ["p"] * 6


@pytest.mark.slow
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(runs=st.lists(st.dictionaries(st.sampled_from(["k", "K", "run_id", "k@str", "entity"]),
                                     st.sampled_from(sorted(ARRAYS)), min_size=1, max_size=3),
                     min_size=2, max_size=4))
def test_any_old_store_reads_whole(tmp_path_factory, runs):
    root = tmp_path_factory.mktemp("old")
    for i, cols in enumerate(runs):
        # Keys that differ only in case are two columns of a file only if runlake wrote them.
        seen, kept = set(), {}
        for k, fam in cols.items():
            if k.lower() not in seen:
                seen.add(k.lower())
                kept[k] = ARRAYS[fam](3)
        old_run(root, "p", f"r{i}", kept, rows=3)
    api = runlake.Api(root=root)
    assert api.sql("SELECT * FROM history").fetchall().__len__() == 3 * len(runs)
    assert api.sql("SELECT count(*) FROM history WHERE run_id = 'r0'").fetchall() == [(3,)]
    assert api.history("p").collect().height == 3 * len(runs)


@pytest.mark.parametrize("strange", ["runs*", "runs?", "runs[1]"])
def test_a_store_path_with_glob_characters_reads_only_its_own_files(tmp_path, strange):
    mine, other = tmp_path / strange / "s", tmp_path / "runs1" / "s"
    for root, n in ((mine, 2), (other, 5)):
        with runlake.init(project="p", id="a", settings=runlake.Settings(
                root=str(root), quiet=True, system_metrics=True)) as run:
            for s in range(n):
                run.log({"x": float(s)})
    api = runlake.Api(root=mine)
    assert api.sql("SELECT count(*) FROM history").fetchall() == [(2,)]
    assert api.sql("SELECT count(*) FROM history WHERE run_id = 'a'").fetchall() == [(2,)]
    assert {r[0] for r in api.sql("SELECT run_id FROM system").fetchall()} <= {"a"}
    assert api.history("p").collect().height == 2
