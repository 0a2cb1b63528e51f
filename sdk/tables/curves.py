"""Classifier curves in numpy alone (no scikit-learn): what `runlake.plot` tabulates.

The definitions are scikit-learn's, so numbers agree with what users compare against:
`pr_points` is `precision_recall_curve`, `roc_points` is `roc_curve` (drop_intermediate=True).

    >>> import numpy as np
    >>> p, r, t = pr_points(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    >>> p.tolist(), r.tolist(), t.tolist()
    ([0.5, 0.6666666666666666, 0.5, 1.0, 1.0], [1.0, 1.0, 0.5, 0.5, 0.0], [0.1, 0.35, 0.4, 0.8])
"""

from __future__ import annotations

import numpy as np


def _counts(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True and false positives when predicting positive at score >= t, for each distinct
    score t from the highest down."""
    order = np.argsort(-scores, kind="mergesort")
    scores, positive = scores[order], positive[order]
    last_of_each = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    tps = np.cumsum(positive, dtype=np.int64)[last_of_each]
    fps = last_of_each + 1 - tps
    return tps, fps, scores[last_of_each]


def pr_points(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, thresholds) by increasing threshold, ending at precision 1, recall 0
    (scikit-learn >= 1.1: every threshold is kept). No positives at all gives recall 1."""
    tps, fps, thresholds = _counts(positive.astype(bool), scores)
    precision = tps / (tps + fps)
    recall = tps / tps[-1] if tps[-1] else np.ones(tps.shape)
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], thresholds[::-1]


def interpolated_precision(precision: np.ndarray, recall: np.ndarray,
                           at_recall: np.ndarray) -> np.ndarray:
    """The best precision reachable at recall >= r, for each r of `at_recall` (pr_points'
    order in): the usual interpolated PR curve, monotone in recall."""
    envelope = np.maximum.accumulate(precision)  # recall falls along the input order
    recall_up, envelope_up = recall[::-1], envelope[::-1]
    index = np.searchsorted(recall_up, at_recall, side="left")
    return envelope_up[np.minimum(index, len(recall_up) - 1)]


def roc_points(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate, thresholds) from (0, 0) at threshold +inf;
    collinear points are dropped. A rate with no examples to count (no negatives, or no
    positives) is NaN."""
    tps, fps, thresholds = _counts(positive.astype(bool), scores)
    if len(tps) > 2:
        keep = np.flatnonzero(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])
        tps, fps, thresholds = tps[keep], fps[keep], thresholds[keep]
    tps, fps = np.r_[0, tps], np.r_[0, fps]
    with np.errstate(invalid="ignore", divide="ignore"):
        fpr = fps / fps[-1] if fps[-1] else np.full(fps.shape, np.nan)
        tpr = tps / tps[-1] if tps[-1] else np.full(tps.shape, np.nan)
    return fpr, tpr, np.r_[np.inf, thresholds]


def confusion_counts(actual: np.ndarray, predicted: np.ndarray, n: int) -> np.ndarray:
    """counts[i, j]: how many examples of class i were predicted as class j."""
    counts = np.zeros((n, n), dtype=np.int64)
    np.add.at(counts, (actual, predicted), 1)
    return counts
