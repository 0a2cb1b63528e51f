"""`runlake.Histogram`: a distribution kept in its reference (bins and counts, no file).

>>> import numpy as np, runlake
>>> h = runlake.Histogram([1, 2, 2, 3], num_bins=2)
>>> h.bins, h.histogram
([1.0, 2.0, 3.0], [1, 3])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from runlake.errors import InvalidValueError

from runlake.media.base import Media, MediaContext

MAX_BINS = 512  # wandb's MAX_LENGTH


class Histogram(Media):
    """A histogram of `sequence` (numpy's `np.histogram`), or a precomputed
    `np_histogram=(counts, bin_edges)`. At most 512 bins. A constant sequence and an empty
    one are binned as numpy bins them (as wandb does): around the value, and over [0, 1]."""

    _log_type = "histogram"
    _folder = "histograms"  # unused: a histogram has no file
    MAX_LENGTH = MAX_BINS

    def __init__(self, sequence: Any = None, np_histogram: Any = None, num_bins: int = 64) -> None:
        if np_histogram is not None:
            counts, bins = _precomputed(np_histogram)
        else:
            if sequence is None:
                raise InvalidValueError(
                    "Histogram() needs a sequence or np_histogram=(counts, bin_edges)")
            counts, bins = _compute(sequence, num_bins)
        if len(counts) > MAX_BINS:
            raise InvalidValueError(
                f"Histogram has {len(counts)} bins; the maximum is {MAX_BINS}: pass fewer bins")
        if len(bins) != len(counts) + 1:
            raise InvalidValueError(
                f"Histogram bin edges must be one more than the counts; got {len(bins)} edges "
                f"for {len(counts)} counts")
        self.histogram: list[int | float] = counts
        self.bins: list[float] = bins

    def _encode(self, ctx: MediaContext) -> tuple[bytes | None, str, dict[str, Any]]:
        return None, "", {"bins": self.bins, "values": self.histogram}

    def __repr__(self) -> str:
        return f"Histogram({len(self.histogram)} bins)"


def _compute(sequence: Any, num_bins: Any) -> tuple[list[int | float], list[float]]:
    if isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer)) or not (
        1 <= num_bins <= MAX_BINS
    ):
        raise InvalidValueError(
            f"Histogram num_bins must be an int from 1 to {MAX_BINS}, got "
            f"{type(num_bins).__name__} {num_bins!r}")
    data = _numbers(sequence)
    if data.size and not np.isfinite(data).all():
        raise InvalidValueError(
            "Histogram values hold NaN or infinity, which no bin can hold: drop them first "
            "(`x[np.isfinite(x)]`)")
    counts, edges = np.histogram(data, bins=int(num_bins))
    return counts.tolist(), edges.astype(np.float64).tolist()


def _numbers(sequence: Any) -> np.ndarray:
    if type(sequence).__module__.startswith("torch"):
        sequence = sequence.detach().cpu().numpy()
    try:
        data = np.asarray(sequence)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise InvalidValueError(f"Histogram needs numbers; got {type(sequence).__name__} "
                                f"({exc})") from None
    if data.dtype.kind == "b":
        data = data.astype(np.int64)
    if data.dtype.kind not in "iuf":
        raise InvalidValueError(
            f"Histogram needs numbers; got a {type(sequence).__name__} of dtype {data.dtype}")
    return data.ravel()


def _precomputed(np_histogram: Any) -> tuple[list[int | float], list[float]]:
    if not isinstance(np_histogram, (tuple, list)) or len(np_histogram) != 2:
        raise InvalidValueError(
            "Histogram np_histogram must be a (counts, bin_edges) pair, as np.histogram returns")
    counts, edges = (np.asarray(x) for x in np_histogram)
    if counts.ndim != 1 or edges.ndim != 1 or counts.dtype.kind not in "biuf" or (
        edges.dtype.kind not in "biuf"
    ):
        raise InvalidValueError("Histogram np_histogram must hold two 1-d arrays of numbers")
    return counts.tolist(), edges.astype(np.float64).tolist()
