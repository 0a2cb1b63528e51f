"""The demo: a small training-style script that logs a few runs, then queries them with DuckDB.

    runlake demo            # into ./runlake-store (or $RUNLAKE_DIR)
"""

from __future__ import annotations

import math
import random

import runlake
import runlake.query


def train(lr: float, steps: int, seed: int, root: str | None) -> runlake.Run:
    rng = random.Random(seed)
    with runlake.init(
        project="demo", settings={"root": root}, config={"lr": lr, "batch_size": 64, "seed": seed},
        tags=["demo"], group="lr-sweep", job_type="train", reinit="finish_previous",
    ) as run:
        runlake.define_metric("val/acc", summary="max")
        runlake.define_metric("train/loss", summary="min,last")
        floor = 0.2 + 0.5 * abs(math.log10(lr) + 2)  # lr=1e-2 trains best
        for step in range(steps):
            loss = floor + 2.1 * math.exp(-step * lr / 5) * (1 + rng.gauss(0, 0.05))
            if step % 100 == 0:  # evaluation joins this step's row
                acc = max(0.0, min(1.0, 1 - loss / 2.3 + rng.gauss(0, 0.01)))
                run.log({"val/acc": acc}, commit=False)
            run.log({"train/loss": loss, "lr": lr * 0.5 * (1 + math.cos(math.pi * step / steps))})
    return run


def main(runs: int = 4, steps: int = 2000, root: str | None = None) -> None:
    for i in range(runs):
        lr = 10 ** -(1 + i * 0.5)
        run = train(lr, steps, seed=i, root=root)
        print(f"logged {run.path} ({run.name}): lr={lr:.4g}, {run.step} steps")
    store = runlake.engine.resolve_root(root)
    print(f"\nstore: {store}\n")
    query = """
        SELECT r.name, r.config.lr AS lr, count(*) AS steps,
               round(min(h."train/loss"), 4) AS best_loss, round(max(h."val/acc"), 4) AS best_acc
        FROM history h JOIN runs r ON r.id = h.run_id AND r.project = h.project
        WHERE h.project = 'demo'
        GROUP BY ALL ORDER BY best_acc DESC
    """
    print(query.strip())
    print(runlake.query.sql(query, root=store))
    print("Plain DuckDB reads it too, with no runlake code:")
    print(f"  SELECT run_id, max(\"val/acc\") FROM read_parquet('{store}/history/**/*.parquet',")
    print("      hive_partitioning = true, union_by_name = true) GROUP BY run_id;")
