"""Property: whatever mix of keys and types several runs of one store log, every reader reads
the whole store: api.sql over history and runs, Api.history, each run's history, and plain
DuckDB and polars over the files. Keys the SDK refuses raise at log() and are skipped."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runlake
from runlake.engine import keys as key_families

pytestmark = pytest.mark.slow

KEYS = ["a", "A", "b", "b@str", "c.d", "run_id", "x@y", "Loss", "loss"]
SCALARS = st.one_of(
    st.booleans(), st.integers(-10**6, 10**6),
    st.floats(allow_nan=True, allow_infinity=True, width=64), st.text(max_size=5), st.none(),
    st.lists(st.integers(-5, 5), min_size=1, max_size=3),
    st.lists(st.floats(-1, 1), min_size=1, max_size=3),
    st.lists(st.text(max_size=3), min_size=1, max_size=3),
    st.sampled_from(["histogram", "image"]),
)
ROW = st.dictionaries(st.sampled_from(KEYS), st.one_of(SCALARS, st.dictionaries(
    st.sampled_from(["e", "E", "f"]), SCALARS, max_size=2)), min_size=1, max_size=4)
RUN = st.tuples(st.sampled_from(["p", "q"]),
                st.dictionaries(st.sampled_from(["lr", "LR", "opt"]), st.integers(0, 3), max_size=2),
                st.lists(ROW, min_size=1, max_size=4))


def _value(v):
    if v == "histogram":
        return runlake.Histogram([1, 2, 3])
    if v == "image":
        return runlake.Image(np.zeros((2, 2, 3), dtype=np.uint8))
    if isinstance(v, dict):
        return {k: _value(x) for k, x in v.items()}
    return v


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(runs=st.lists(RUN, min_size=2, max_size=4))
def test_every_reader_reads_any_mix_of_runs(tmp_path_factory, runs):
    root = tmp_path_factory.mktemp("store")
    key_families._known.clear()
    key_families._read_to.clear()
    logged = 0
    for project, config, rows in runs:
        with runlake.init(settings={"root": root}, project=project, config=config) as run:
            for row in rows:
                try:
                    run.log({k: _value(v) for k, v in row.items()})
                except runlake.Error:
                    continue  # refused keys: the call logs no row
                logged += 1
            run.summary.update({k.upper() if i % 2 else k: i for i, k in enumerate(config)})
    api = runlake.Api(root)
    assert len(api.sql("SELECT * FROM history").fetchall()) == logged
    assert len(api.sql("SELECT * FROM runs").fetchall()) == len(runs)
    projects = sorted({p for p, _, _ in runs})
    assert sum(api.history(p).collect().height for p in projects) == logged
    assert sum(r.history(samples=None, format="polars").height
               for p in projects for r in api.runs(p)) == logged
    files = sorted((root / "history").rglob("*.parquet"))
    if not files:  # every call was refused: no history file to read by hand
        assert logged == 0
        return
    plain = duckdb.sql(f"SELECT * FROM read_parquet({[str(f) for f in files]}, "
                       "hive_partitioning = true, union_by_name = true)").fetchall()
    assert len(plain) == logged
    assert pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed").height == logged
