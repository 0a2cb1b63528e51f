"""runlake.Histogram: bins and counts exact, numpy's (and wandb's) edge cases, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import runlake
from tests.helpers import rows


def test_bins_and_counts_are_numpy_s_exactly(root):
    data = np.random.default_rng(1).normal(size=(100, 100))
    with runlake.init(settings={"root": root}) as run:
        run.log({"h": runlake.Histogram(data, num_bins=20)})
    ref = rows(root)[0]["h"]
    counts, edges = np.histogram(data, bins=20)
    assert ref == {"_type": "histogram", "bins": edges.tolist(), "values": counts.tolist()}
    assert "path" not in ref  # no file: the reference holds it all


def test_default_is_64_bins_and_512_is_the_maximum():
    assert len(runlake.Histogram(range(1000)).histogram) == 64
    assert len(runlake.Histogram(range(1000), num_bins=512).bins) == 513
    with pytest.raises(runlake.InvalidValueError, match="num_bins.*1 to 512"):
        runlake.Histogram(range(10), num_bins=513)
    with pytest.raises(runlake.InvalidValueError, match="maximum is 512"):
        runlake.Histogram(np_histogram=(np.zeros(600), np.arange(601)))


def test_constant_and_empty_sequences_bin_as_numpy_does():
    const = runlake.Histogram([5.0] * 10, num_bins=4)
    assert const.bins == [4.5, 4.75, 5.0, 5.25, 5.5] and const.histogram == [0, 0, 10, 0]
    empty = runlake.Histogram([], num_bins=2)
    assert empty.bins == [0.0, 0.5, 1.0] and empty.histogram == [0, 0]


def test_np_histogram_is_kept_as_given():
    h = runlake.Histogram(np_histogram=([1, 2, 3], [0.0, 1.0, 2.0, 4.0]))
    assert h.histogram == [1, 2, 3] and h.bins == [0.0, 1.0, 2.0, 4.0]
    with pytest.raises(runlake.InvalidValueError, match="one more than the counts"):
        runlake.Histogram(np_histogram=([1, 2], [0.0, 1.0]))
    with pytest.raises(runlake.InvalidValueError, match="pair"):
        runlake.Histogram(np_histogram=([1, 2],))


@pytest.mark.parametrize("bad, match", [
    ([1.0, float("nan")], "NaN"),
    (["a", "b"], "needs numbers"),
    (None, "needs a sequence"),
])
def test_bad_sequences_are_refused(bad, match):
    with pytest.raises(runlake.InvalidValueError, match=match):
        runlake.Histogram(bad)


def test_a_nan_in_an_automatic_histogram_names_the_key(root):
    data = np.arange(40.0)
    data[3] = np.nan
    with runlake.init(settings={"root": root}) as run:
        with pytest.raises(runlake.InvalidValueError, match="'g'.*histogram.*NaN"):
            run.log({"g": data, "ok": 1})
        run.log({"ok": 2})
    assert [r["ok"] for r in rows(root)] == [2]  # the refused call logged nothing
