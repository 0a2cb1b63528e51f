"""run.summary as wandb's code uses it: nested values, attribute access, the last row's
_step/_runtime/_timestamp, numpy values as Python ones."""

from __future__ import annotations

import numpy as np
import pytest

import runlake
from tests import helpers


def run_json(root, run: runlake.Run) -> dict:
    return helpers.run_json(root, run.id)


def test_logged_nested_dicts_read_nested_and_by_attribute(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"a": {"b": 1, "c": 2}})
        run.log({"a": {"b": 3}})
        assert run.summary["a"] == {"b": 3, "c": 2}  # later rows update what they log
        assert run.summary.a.b == 3 and run.summary["a"]["c"] == 2
        assert isinstance(run.summary["a"], dict)


def test_nested_values_set_by_hand_are_kept_nested_and_writable_through_the_view(root):
    with runlake.init(settings={"root": root}) as run:
        run.summary.update({"n": {"p": 1, "q": {"r": 2}}})
        run.summary.n.q.t = 9
        run.summary["n"]["q"]["u"] = 10
        assert run.summary["n"] == {"p": 1, "q": {"r": 2, "t": 9, "u": 10}}
        del run.summary.n.q.r
        assert run.summary.n.q == {"t": 9, "u": 10}
        run.summary.update({"n": {"z": 0}})  # update() replaces a top key's value, as in wandb
        assert run.summary["n"] == {"z": 0}
    assert run_json(root, run)["summary"]["n"] == {"z": 0}


def test_a_value_set_inside_a_logged_dict_leaves_the_logged_keys_live(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"a": {"b": 1}})
        run.summary.a.z = 4
        run.log({"a": {"b": 11}})
        assert run.summary["a"] == {"b": 11, "z": 4}
        del run.summary.a.b
        assert run.summary["a"] == {"z": 4}


def test_dotted_and_nested_keys_set_by_hand_are_different_keys(root):
    with runlake.init(settings={"root": root}) as run:
        run.summary["a.b"] = 1
        run.summary["a"] = {"b": 2}
        assert run.summary["a.b"] == 1 and run.summary["a"] == {"b": 2}
    stored = run_json(root, run)["summary"]
    assert stored["a.b"] == 1 and stored["a"] == {"b": 2}


def test_attribute_assignment_and_deletion_set_and_delete_keys(root):
    with runlake.init(settings={"root": root}) as run:
        run.summary.best = 7
        run.summary.gone = 1
        del run.summary.gone
        assert run.summary["best"] == 7 and "gone" not in run.summary
        with pytest.raises(AttributeError):
            del run.summary.never_set
    assert run_json(root, run)["summary"] == {"best": 7}


def test_the_last_rows_step_runtime_and_timestamp_are_readable(root):
    with runlake.init(settings={"root": root}) as run:
        assert "_step" not in run.summary
        run.log({"x": 1})
        run.log({"x": 2}, step=5)
        run.log({"x": 3})  # commits step 5 (a step= row waits for the next step, as in wandb)
        assert run.summary["_step"] == 5 and run.summary._step == 5
        assert run.summary["_runtime"] >= 0 and run.summary["_timestamp"] > run.start_time - 1
        assert "_runtime" in run.summary
    assert "_step" not in run_json(root, run)["summary"]  # history's columns, not summary keys


@pytest.mark.parametrize("mode", ["online", "disabled"])
def test_numpy_values_set_by_hand_come_back_as_python_values(root, mode):
    with runlake.init(settings={"root": root}, mode=mode) as run:
        run.summary["arr"] = np.arange(3)
        run.summary["grid"] = np.ones((2, 2), dtype=np.float32)
        run.summary.f = np.float32(2.5)
        run.summary["nested"] = {"i": np.int64(4)}
        assert run.summary["arr"] == [0, 1, 2] and type(run.summary["arr"][0]) is int
        assert run.summary["grid"] == [[1.0, 1.0], [1.0, 1.0]]
        assert type(run.summary.f) is float and type(run.summary.nested.i) is int
    if mode == "online":
        stored = runlake.Api(root).run(run.path).summary
        assert stored["arr"] == [0, 1, 2] and stored["f"] == 2.5


def test_a_disabled_run_takes_media_in_its_summary():
    with runlake.init(mode="disabled") as run:
        img = runlake.Image(np.zeros((2, 2, 3), dtype=np.uint8))
        run.summary["img"] = img
        assert run.summary["img"] is img
