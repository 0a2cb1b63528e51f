"""wandb's step rules for log(step=, commit=), read back from the Parquet files."""

from __future__ import annotations

import pytest

import runlake
from tests.helpers import rows


def test_each_log_is_a_step(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"a": 1.0})
        run.log({"a": 2.0, "b": "x"})
        assert run.step == 2
    assert rows(root) == [{"_step": 0, "a": 1.0}, {"_step": 1, "a": 2.0, "b": "x"}]


def test_reference_examples_are_equivalent(root):
    """The three ways wandb's Run reference calls equivalent write the same history."""
    results = []
    for style in ("plain", "commit", "step"):
        with runlake.init(settings={"root": root}, project=style) as run:
            if style == "plain":
                run.log({"train-loss": 0.5, "accuracy": 0.8})
                run.log({"train-loss": 0.4, "accuracy": 0.9})
            elif style == "commit":
                run.log({"train-loss": 0.5}, commit=False)
                run.log({"accuracy": 0.8})
                run.log({"train-loss": 0.4}, commit=False)
                run.log({"accuracy": 0.9})
            else:
                current_step = 0
                run.log({"train-loss": 0.5}, step=current_step)
                run.log({"accuracy": 0.8}, step=current_step)
                current_step += 1
                run.log({"train-loss": 0.4}, step=current_step)
                run.log({"accuracy": 0.9}, step=current_step)
        results.append(rows(root, run.id))
    assert results[0] == results[1] == results[2]
    assert results[0] == [
        {"_step": 0, "train-loss": 0.5, "accuracy": 0.8},
        {"_step": 1, "train-loss": 0.4, "accuracy": 0.9},
    ]


def test_larger_step_commits_pending_and_jumps(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"a": 1}, commit=False)
        run.log({"b": 2}, step=10)
        assert run.step == 10
        run.log({"c": 3})
        assert run.step == 11
    assert rows(root) == [{"_step": 0, "a": 1}, {"_step": 10, "b": 2, "c": 3}]


def test_smaller_step_is_dropped_with_a_warning(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"a": 1}, step=5)
        with pytest.warns(UserWarning, match="less than the current step"):
            run.log({"a": 2}, step=3)
        run.log({"a": 3})
    assert rows(root) == [{"_step": 5, "a": 3}]


def test_pending_step_is_committed_at_finish(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"a": 1})
        run.log({"b": 2}, commit=False)
    assert rows(root) == [{"_step": 0, "a": 1}, {"_step": 1, "b": 2}]


def test_empty_log_still_makes_a_step(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({})
        run.log({"a": 1})
        assert run.step == 2
    assert rows(root) == [{"_step": 0}, {"_step": 1, "a": 1}]


def test_step_argument_validation(root):
    with runlake.init(settings={"root": root}) as run:
        for bad in (1.5, "3", True):
            with pytest.raises(TypeError, match="step must be an int"):
                run.log({"a": 1}, step=bad)
        with pytest.raises(ValueError, match=">= 0"):
            run.log({"a": 1}, step=-1)
        run.log({"a": 1})
    assert rows(root) == [{"_step": 0, "a": 1}]


def test_log_before_init_raises_runlake_error():
    with pytest.raises(runlake.Error, match="init"):
        runlake.log({"a": 1})


def test_log_after_finish_raises(root):
    run = runlake.init(settings={"root": root})
    run.log({"a": 1})
    run.finish()
    with pytest.raises(runlake.Error, match="finished"):
        run.log({"a": 1})
    assert rows(root) == [{"_step": 0, "a": 1}]


def test_fast_path_rows_match_slow_path_rows(root):
    """Rows of one shape take the buffer's fast path; they must read back exactly."""
    with runlake.init(settings={"root": root}) as run:
        for i in range(1000):
            run.log({"x": float(i), "i": i, "s": str(i), "flag": i % 2 == 0})
    got = rows(root)
    assert len(got) == 1000
    assert got[7] == {"_step": 7, "x": 7.0, "i": 7, "s": "7", "flag": False}
    assert [r["i"] for r in got] == list(range(1000))
