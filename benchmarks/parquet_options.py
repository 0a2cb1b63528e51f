"""Which Parquet writer options runlake's history segments use: size, write time, readers.

On a realistic metrics table (1M rows by default: _step int64, _runtime/_timestamp float64,
8 float metrics - losses and accuracies that come from float32 tensors via `.item()`, an lr
schedule and a throughput computed in float64, two validation metrics logged every 1,000
steps (null elsewhere) - one int column and one low-cardinality string column), this writes
the same table with each candidate option set and measures:

  write time   median of interleaved repetitions, and its ratio to runlake's default (a)
  file size    bytes, and the ratio to (a); per-column compressed sizes for a, b and d
  read time    pyarrow `pq.read_table`, median
  fastparquet  whether fastparquet reads the file back with the same values

Candidates (all with runlake's row group size, so only encoding/compression differ):
  (a) runlake default: engine.segment.writer_options(schema)  zstd, dictionary for strings
  (b) dictionary on all columns + zstd (pyarrow's default dictionary choice)
  (c) snappy, otherwise (a)
  (d) zstd + BYTE_STREAM_SPLIT on floats: writer_options(schema, compact=True)
  (e) no compression, otherwise (a)
  (f) pyarrow's defaults (snappy + dictionary on all columns), for reference

Usage: python benchmarks/parquet_options.py [--quick]. Files go to a temporary directory.
The data are seeded, so sizes are reproducible exactly; times vary with the machine.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from runlake.engine.kinds import ARROW_TYPE, STR
from runlake.engine.segment import ROW_GROUP_ROWS, writer_options

EVAL_EVERY = 1000


def metrics_table(n: int, seed: int = 0) -> pa.Table:
    """A training run's history as runlake stores it (column types as runlake makes them)."""
    rng = np.random.default_rng(seed)
    step = np.arange(n, dtype=np.int64)
    runtime = np.cumsum(rng.normal(0.1, 0.01, n).clip(0.05))

    def f32(x: np.ndarray) -> np.ndarray:  # a float32 tensor's .item(): float64, f32 precision
        return x.astype(np.float32).astype(np.float64)

    loss = f32(0.3 + 2.2 * np.exp(-step / (0.1 * n)) + rng.normal(0, 0.05, n) ** 2)
    acc = f32(np.clip(0.98 - 0.9 * np.exp(-step / (0.15 * n)) + rng.normal(0, 0.02, n), 0, 1))
    warm = max(1, n // 100)
    lr = np.where(step < warm, 3e-4 * (step + 1) / warm,
                  1.5e-4 * (1 + np.cos(np.pi * (step - warm) / max(1, n - warm))))
    sparse = step % EVAL_EVERY == EVAL_EVERY - 1

    def every_eval(x: np.ndarray) -> pa.Array:
        return pa.array(x, pa.float64(), mask=~sparse)

    phase = np.where(step < warm, "warmup", np.where(sparse, "eval", "train"))
    columns = {
        "_step": pa.array(step),
        "_runtime": pa.array(runtime),
        "_timestamp": pa.array(1.75e9 + runtime),
        "train/loss": pa.array(loss),
        "train/acc": pa.array(acc),
        "train/perplexity": pa.array(f32(np.exp(loss))),
        "train/grad_norm": pa.array(f32(rng.lognormal(0.0, 0.3, n) * (1 + 4 * np.exp(-step / 5e3)))),
        "lr": pa.array(lr),
        "perf/samples_per_sec": pa.array(256 / rng.normal(0.1, 0.01, n).clip(0.05)),
        "val/loss": every_eval(f32(loss + 0.05 + rng.normal(0, 0.01, n))),
        "val/acc": every_eval(f32(acc - 0.02)),
        "tokens_seen": pa.array(step * 4096 + 4096),
        "phase": pa.array(phase.tolist(), ARROW_TYPE[STR]),
    }
    return pa.table(columns)


def candidates(schema: pa.Schema) -> dict[str, tuple[str, dict[str, object]]]:
    default = writer_options(schema)
    return {
        "a": ("runlake default (zstd, dict strings)", default),
        "b": ("zstd, dictionary all columns", {**default, "use_dictionary": True}),
        "c": ("snappy, dict strings", {**default, "compression": "snappy"}),
        "d": ("zstd + BSS floats (compact=True)", writer_options(schema, compact=True)),
        "e": ("no compression, dict strings", {**default, "compression": "none"}),
        "f": ("pyarrow defaults (snappy, dict all)", {}),
    }


def write(table: pa.Table, path: Path, options: dict[str, object]) -> float:
    t0 = time.perf_counter()
    pq.write_table(table, path, row_group_size=ROW_GROUP_ROWS, **options)
    return time.perf_counter() - t0


def fastparquet_check(path: Path, expected: pa.Table) -> str:
    """'yes' if fastparquet reads every column back equal to the table, else why not."""
    try:
        import fastparquet
    except ImportError:
        return "not installed"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            df = fastparquet.ParquetFile(str(path)).to_pandas()
    except Exception as exc:  # any failure to read is the answer
        return f"no: {type(exc).__name__}: {str(exc)[:60]}"
    for name in expected.column_names:
        col = expected[name]
        if pa.types.is_floating(col.type):
            want = col.to_numpy(zero_copy_only=False)
            same = np.array_equal(want, df[name].to_numpy(np.float64), equal_nan=True)
        else:
            same = col.to_pylist() == df[name].tolist()
        if not same:
            return f"no: column {name} differs"
    return "yes"


def column_sizes(path: Path) -> dict[str, int]:
    meta = pq.ParquetFile(path).metadata
    sizes: dict[str, int] = {}
    for rg in range(meta.num_row_groups):
        for c in range(meta.num_columns):
            col = meta.row_group(rg).column(c)
            sizes[col.path_in_schema] = sizes.get(col.path_in_schema, 0) + col.total_compressed_size
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="200k rows, 3 repetitions")
    parser.add_argument("--rows", type=int, help="rows in the table (default 1,000,000)")
    args = parser.parse_args()
    n = args.rows or (200_000 if args.quick else 1_000_000)
    reps = 3 if args.quick else 5
    table = metrics_table(n)
    opts = candidates(table.schema)
    print(f"parquet_options: {n:,} rows x {table.num_columns} columns "
          f"({table.nbytes / 2**20:.0f} MiB in Arrow), {reps} interleaved repetitions, "
          f"row groups of {ROW_GROUP_ROWS:,} rows, pyarrow {pa.__version__}")
    times: dict[str, list[float]] = {k: [] for k in opts}
    reads: dict[str, list[float]] = {k: [] for k in opts}
    with tempfile.TemporaryDirectory(prefix="runlake-parquet-") as tmp:
        paths = {k: Path(tmp) / f"{k}.parquet" for k in opts}
        for k in opts:  # warm-up, untimed
            write(table, paths[k], opts[k][1])
        keys = list(opts)
        for rep in range(reps):
            order = keys[rep % len(keys):] + keys[: rep % len(keys)]  # rotate the order
            for k in order:
                times[k].append(write(table, paths[k], opts[k][1]))
            for k in order:
                t0 = time.perf_counter()
                assert pq.read_table(paths[k]).equals(table)
                reads[k].append(time.perf_counter() - t0)
        size = {k: paths[k].stat().st_size for k in opts}
        fastpq = {k: fastparquet_check(paths[k], table) for k in opts}
        per_col = {k: column_sizes(paths[k]) for k in ("a", "b", "d")}
    write_s = {k: statistics.median(v) for k, v in times.items()}
    read_s = {k: statistics.median(v) for k, v in reads.items()}

    print()
    print(f"{'':3}{'options':<38}{'size MB':>9}{'vs a':>7}{'write ms':>10}{'vs a':>7}"
          f"{'read ms':>9}  fastparquet")
    print("-" * 100)
    for k, (label, _) in opts.items():
        print(f"{k:<3}{label:<38}{size[k] / 1e6:9.2f}{size[k] / size['a']:6.2f}x"
              f"{write_s[k] * 1e3:10.0f}{write_s[k] / write_s['a']:6.2f}x{read_s[k] * 1e3:9.0f}"
              f"  {fastpq[k]}")
    print()
    print(f"{'column (compressed KB)':<26}{'a default':>11}{'b dict all':>12}{'d BSS':>9}")
    for name in table.column_names:
        a, b, d = (per_col[k][name] / 1e3 for k in ("a", "b", "d"))
        print(f"{name:<26}{a:11.0f}{b:12.0f}{d:9.0f}")

    readable = [k for k in opts if fastpq[k] == "yes"]
    small = min(readable, key=size.get)
    smallest = min(opts, key=size.get)
    print()
    print(f"Smallest file overall: ({smallest}) {opts[smallest][0]}, {size[smallest] / 1e6:.2f} MB; "
          f"smallest that fastparquet reads: ({small}) {opts[small][0]}, {size[small] / 1e6:.2f} MB.")
    verdict = ("is the smallest file fastparquet reads" if small == "a" else
               f"is {size['a'] / size[small]:.2f}x the size of ({small})")
    print(f"runlake default (a) {verdict}; vs dictionary-all (b): {size['a'] / size['b']:.2f}x "
          f"the size in {write_s['a'] / write_s['b']:.2f}x the write time; compact (d) is "
          f"{size['d'] / size['a']:.2f}x (a)'s size in {write_s['d'] / write_s['a']:.2f}x its "
          f"write time (fastparquet: {fastpq['d']}).")

if __name__ == "__main__":
    main()
