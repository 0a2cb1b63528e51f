"""run.summary and define_metric: aggregations, globs, step metrics, persistence in run.json."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

import runlake
from tests import helpers
from tests.helpers import rows


def run_json(run: runlake.Run) -> dict:
    """The run's run.json, read directly (no runlake reader)."""
    return helpers.run_json(Path(run.settings.root), run.id, run.entity, run.project)


def test_summary_is_the_last_value_by_default(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"loss": 3.0, "name": "a", "vec": [1, 2]})
        run.log({"loss": 1.0})
        run.log({"loss": 2.0, "name": "b", "vec": [3]})
        assert run.summary["loss"] == 2.0
        assert run.summary["name"] == "b"
        assert run.summary["vec"] == [3]
        assert "missing" not in run.summary
        with pytest.raises(KeyError):
            run.summary["missing"]
    assert run_json(run)["summary"] == {"loss": 2.0, "name": "b", "vec": [3]}


def test_summary_reads_reflect_every_log_before_them(root):
    with runlake.init(settings={"root": root}) as run:
        for i in range(500):
            run.log({"i": i})
            if i % 97 == 0:
                assert run.summary["i"] == i
        assert run.summary["i"] == 499


@pytest.mark.parametrize("op, expected", [
    ("min", {"min": 1.0}),
    ("max", {"max": 4.0}),
    ("mean", {"mean": 2.5}),
    ("last", {"last": 2.0}),
    ("min,max", {"min": 1.0, "max": 4.0}),
    ("min, max ,mean", {"min": 1.0, "max": 4.0, "mean": 2.5}),
])
def test_summary_aggregations(root, op, expected):
    with runlake.init(settings={"root": root}) as run:
        run.define_metric("loss", summary=op)
        for v in (3.0, 1.0, 4.0, 2.0):
            run.log({"loss": v})
        assert run.summary["loss"] == expected
    assert run_json(run)["summary"]["loss"] == expected


@pytest.mark.parametrize("goal, best", [("minimize", 1.0), ("maximize", 4.0)])
def test_summary_best_follows_the_goal(root, goal, best):
    with runlake.init(settings={"root": root}) as run:
        run.define_metric("acc", summary="best", goal=goal)
        for v in (3.0, 1.0, 4.0, 2.0):
            run.log({"acc": v})
        assert run.summary["acc"] == {"best": best}


def test_summary_aggregates_ints_and_module_level_define_metric(root):
    with runlake.init(settings={"root": root}) as run:
        m = runlake.define_metric("n", summary="max,min")
        assert isinstance(m, runlake.Metric)
        for v in (5, 2, 9):
            run.log({"n": v})
        assert run.summary["n"] == {"max": 9, "min": 2}


def test_summary_copy_is_the_last_value_and_none_leaves_it_out(root):
    with runlake.init(settings={"root": root}) as run:
        run.define_metric("c", summary="copy")
        run.define_metric("h", summary="none")
        run.log({"c": 1.0, "h": 1.0})
        run.log({"c": 2.0, "h": 2.0})
        assert run.summary["c"] == 2.0
        assert "h" not in run.summary
    summary = run_json(run)["summary"]
    assert summary["c"] == 2.0
    assert "h" not in summary
    assert rows(root)[-1]["h"] == 2.0  # only the summary leaves it out, not the history


def test_glob_names_apply_to_matching_keys(root):
    with runlake.init(settings={"root": root}) as run:
        run.define_metric("train/*", summary="min")
        run.log({"train/loss": 2.0, "train/err": 0.5, "val/loss": 9.0})
        run.log({"train/loss": 1.0, "train/err": 0.7, "val/loss": 8.0})
        assert run.summary["train/loss"] == {"min": 1.0}
        assert run.summary["train/err"] == {"min": 0.5}
        assert run.summary["val/loss"] == 8.0


def test_star_glob_and_exact_name_precedence(root):
    with runlake.init(settings={"root": root}) as run:
        run.define_metric("*", summary="max")
        run.define_metric("loss", summary="min")
        run.log({"loss": 2.0, "acc": 0.1})
        run.log({"loss": 1.0, "acc": 0.3})
        assert run.summary["acc"] == {"max": 0.3}
        assert run.summary["loss"] == {"min": 1.0}


def test_define_metric_merges_unless_overwrite(root):
    with runlake.init(settings={"root": root}) as run:
        run.define_metric("x", summary="min")
        merged = run.define_metric("x", summary="max")
        assert set(merged.summary) == {"min", "max"}
        run.define_metric("y", summary="min", step_metric="s")
        replaced = run.define_metric("y", summary="max", overwrite=True)
        assert replaced.summary == ("max",)
        assert replaced.step_metric is None
        for v in (1.0, 3.0):
            run.log({"x": v, "y": v})
        assert run.summary["x"] == {"min": 1.0, "max": 3.0}
        assert run.summary["y"] == {"max": 3.0}
    metrics = {m["name"]: m for m in run_json(run)["metrics"]}
    assert sorted(metrics["x"]["summary"]) == ["max", "min"]
    assert metrics["y"]["summary"] == ["max"]


def test_step_metric_with_step_sync_fills_rows_that_lack_it(root):
    with runlake.init(settings={"root": root}) as run:
        run.define_metric("epoch")
        run.define_metric("val/*", step_metric="epoch")  # step_sync defaults to on
        run.define_metric("nosync", step_metric="epoch", step_sync=False)
        run.log({"epoch": 1, "train": 0.1})
        run.log({"val/acc": 0.5})
        run.log({"epoch": 2})
        run.log({"val/acc": 0.7, "nosync": 1.0})
        run.log({"nosync": 2.0})
        run.log({"val/acc": 0.9, "epoch": 5})  # a row that has it keeps its own value
    assert rows(root) == [
        {"_step": 0, "epoch": 1, "train": 0.1},
        {"_step": 1, "epoch": 1, "val/acc": 0.5},
        {"_step": 2, "epoch": 2},
        {"_step": 3, "epoch": 2, "val/acc": 0.7, "nosync": 1.0},
        {"_step": 4, "nosync": 2.0},
        {"_step": 5, "epoch": 5, "val/acc": 0.9},
    ]


def test_step_sync_before_the_step_metric_was_logged_adds_nothing(root):
    with runlake.init(settings={"root": root}) as run:
        run.define_metric("val/acc", step_metric="epoch", step_sync=True)
        run.log({"val/acc": 0.5})
    assert rows(root) == [{"_step": 0, "val/acc": 0.5}]


def test_define_metric_accepts_a_metric_as_step_metric(root):
    with runlake.init(settings={"root": root}) as run:
        epoch = run.define_metric("epoch")
        m = run.define_metric("acc", step_metric=epoch)
        assert m.step_metric == "epoch"


@pytest.mark.parametrize("kwargs, error", [
    ({"summary": "median"}, ValueError),
    ({"summary": "min,bogus"}, ValueError),
    ({"summary": "best"}, ValueError),  # best needs a goal
    ({"goal": "up"}, ValueError),
    ({"summary": 3}, TypeError),
])
def test_invalid_summary_or_goal_raises(root, kwargs, error):
    with runlake.init(settings={"root": root}) as run:
        with pytest.raises(error):
            run.define_metric("x", **kwargs)
        with pytest.raises(ValueError):
            run.define_metric("")


def test_user_summary_values_win_over_logged_ones(root):
    with runlake.init(settings={"root": root}) as run:
        run.define_metric("acc", summary="max")
        run.log({"loss": 1.0, "acc": 0.5, "other": 1})
        run.summary["loss"] = "custom"
        run.summary.update({"acc": 0.99, "extra": [1, 2]})
        run.log({"loss": 0.5, "acc": 0.7, "other": 2})
        assert run.summary["loss"] == "custom"
        assert run.summary["acc"] == 0.99
        assert run.summary["extra"] == [1, 2]
        assert run.summary["other"] == 2
    summary = run_json(run)["summary"]
    assert summary["loss"] == "custom" and summary["acc"] == 0.99 and summary["extra"] == [1, 2]
    assert summary["other"] == 2


def test_nested_access_to_flattened_keys(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"a": {"b": 1, "c": {"d": 2.5}}})
        assert run.summary["a"]["b"] == 1
        assert run.summary["a"]["c"]["d"] == 2.5
        assert run.summary["a.b"] == 1
        assert run.summary.a["c"] == {"d": 2.5}


def test_module_level_summary_follows_the_active_run(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"x": 1.0})
        assert runlake.summary["x"] == 1.0
        runlake.summary["y"] = 2
        assert run.summary["y"] == 2


def test_nonfinite_summary_values_survive_run_json(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"nan": float("nan"), "inf": math.inf})
    summary = run_json(run)["summary"]
    # JSON has no NaN: FORMAT.md wraps non-finite floats; the file must stay strict JSON.
    assert summary["nan"] == {"_nonfinite": "NaN"}
    assert summary["inf"] == {"_nonfinite": "Infinity"}


def test_summary_is_persisted_while_running_after_a_flush(root):
    with runlake.init(settings={"root": root}) as run:
        run.define_metric("acc", summary="max")
        run.log({"loss": 0.5, "acc": 0.75})
        run.log({"loss": 0.25, "acc": 0.5})
        assert run._flush(timeout=30)
        expected = {"loss": 0.25, "acc": {"max": 0.75}}
        deadline = time.monotonic() + 30  # generous: a bound on waiting, not a timing claim
        while run_json(run)["summary"] != expected and time.monotonic() < deadline:
            time.sleep(0.02)
        meta = run_json(run)
        assert meta["summary"] == expected
        assert meta["state"] == "running"


@pytest.mark.parametrize("value, kind", [(object(), "builtins.object"), ({1, 2}, "builtins.set"),
                                          ([1, object()], "builtins.object")])
def test_a_summary_value_that_cannot_be_stored_is_a_clear_error(root, value, kind):
    with runlake.init(settings={"root": root}) as run:
        with pytest.raises(runlake.InvalidValueError, match=f"summary key 'o': a {kind}"):
            run.summary["o"] = value
        assert "o" not in run.summary


def test_summary_values_are_stored_as_json_can_hold_them(root):
    import decimal

    import numpy as np

    with runlake.init(settings={"root": root}) as run:
        run.summary.update({"a": np.float32(0.5), "arr": np.arange(3), "d": decimal.Decimal("1.5"),
                            "nested": {"x": [np.int64(2), "s", None]}})
    got = runlake.Api(root).run(run.path).summary
    assert (got["a"], got["arr"], got["d"], got["nested"]) == (0.5, [0, 1, 2], 1.5, {"x": [2, "s", None]})


@pytest.mark.parametrize("key", ["_step", "_runtime", "_timestamp"])
def test_runlakes_own_summary_keys_cannot_be_set(root, key):
    with runlake.init(settings={"root": root}) as run:
        run.log({"a": 1.0})
        with pytest.raises(runlake.InvalidNameError, match=f"'{key}' is runlake's own"):
            run.summary[key] = -5


def test_aggregates_cover_rows_logged_before_the_definition(root):
    with runlake.init(settings={"root": root}) as run:
        for v in (5, 1, 3):
            run.log({"pre": v})
        run.log({"f": 4.0, "g": 1.0})
        run.log({"f": float("nan"), "g": 2.0})  # a float chunk of two keys, NaN skipped
        run.define_metric("pre", summary="min,max,mean")
        run.define_metric("f", summary="max,first")
        run.log({"pre": 2})
        assert run.summary["pre"] == {"min": 1, "max": 5, "mean": 2.75}
        assert run.summary["f"] == {"max": 4.0, "first": 4.0}


def test_metric_step_sync_and_summary_read_as_wandbs():
    with runlake.init(mode="disabled") as run:
        plain = run.define_metric("a")
        assert plain.step_sync is False and plain.summary is None and plain.hidden is None
        stepped = run.define_metric("b", step_metric="epoch", summary="max,min")
        assert stepped.step_sync is True and stepped.summary == ("max", "min")
        assert run.define_metric("c", step_metric="epoch", step_sync=False).step_sync is False


@pytest.mark.parametrize("flag", ["step_sync", "hidden", "overwrite"])
def test_non_bool_flags_are_a_type_error(flag):
    with runlake.init(mode="disabled") as run:
        with pytest.raises(TypeError, match=f"{flag} must be True, False or None.*str") as info:
            run.define_metric("m", **{flag: "yes"})
        assert isinstance(info.value, runlake.Error)
