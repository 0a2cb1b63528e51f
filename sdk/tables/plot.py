"""`runlake.plot`: wandb's chart helpers. Each returns a `CustomChart` (a Table + a preset).

    >>> import runlake
    >>> chart = runlake.plot.pr_curve([0, 1, 1, 0], [[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.8, 0.2]])
    >>> chart.table.columns
    ['class', 'recall', 'precision']

The curves are computed with numpy (runlake/curves.py: scikit-learn's definitions, no
scikit-learn). Values are kept at full precision (wandb rounds to 3 decimals).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from runlake.errors import InvalidValueError

from runlake.tables import curves
from runlake.tables.chart import CustomChart
from runlake.tables.table import Table

__all__ = [
    "CustomChart", "bar", "confusion_matrix", "histogram", "line", "line_series", "plot_table",
    "pr_curve", "roc_curve", "scatter",
]


def plot_table(vega_spec_name: str, data_table: Table, fields: dict[str, Any],
               string_fields: dict[str, Any] | None = None, split_table: bool = False) -> CustomChart:
    """A custom chart of `data_table`: `fields` map the preset's fields to its columns."""
    return CustomChart(vega_spec_name, data_table, fields, string_fields, split_table)


def _scores(y_true: Any, y_probas: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    if y_true is None or y_probas is None:
        raise InvalidValueError(f"{what} needs y_true and y_probas")
    y = np.asarray(y_true)
    p = np.asarray(y_probas, dtype=np.float64)
    if y.ndim != 1 or y.size == 0:
        raise InvalidValueError(f"{what}: y_true must be a non-empty 1-d sequence, got shape {y.shape}")
    if p.ndim == 1:  # binary scores: the probability of class 1
        p = np.stack([1 - p, p], axis=1)
    if p.ndim != 2 or p.shape[0] != y.size:
        raise InvalidValueError(
            f"{what}: y_probas must have shape (num_samples, num_classes) = ({y.size}, ...), "
            f"got {p.shape}"
        )
    if not np.isfinite(p).all():
        raise InvalidValueError(f"{what}: y_probas holds NaN or infinite scores")
    return y, p


def _per_class(y: np.ndarray, p: np.ndarray, labels: Sequence[Any] | None,
               classes_to_plot: Sequence[Any] | None, what: str) -> Iterator[tuple[Any, np.ndarray, np.ndarray]]:
    """(class name, is-this-class mask, that class's scores) for each class to plot.

    The i-th sorted class is column i of y_probas, as wandb pairs them (and as scikit-learn's
    `classes_` orders `predict_proba`: classes 3..8 are columns 0..5). Where y_true holds fewer
    integer classes than y_probas has columns, class c is column c instead: a class missing
    from y_true must not shift the others onto the wrong columns. `labels` name integer
    classes by value when long enough (wandb's `labels[class]`), else by column."""
    classes = np.unique(y)
    integral = np.issubdtype(classes.dtype, np.integer) or classes.dtype == bool
    if len(classes) == p.shape[1]:
        columns = np.arange(len(classes))
    elif integral and len(classes) < p.shape[1]:
        columns = classes.astype(np.int64)
        if columns.min() < 0 or columns.max() >= p.shape[1]:
            raise InvalidValueError(
                f"{what}: y_true has class {int(columns.max())} but y_probas has {p.shape[1]} "
                f"columns (and {len(classes)} classes, not {p.shape[1]}, so class c would be "
                "column c): give y_probas a column per class")
    else:
        raise InvalidValueError(
            f"{what}: y_true has {len(classes)} classes but y_probas has {p.shape[1]} columns; "
            "give y_probas a column per class, in sorted class order")
    by_value = labels is not None and integral and len(labels) > int(classes.max())
    wanted = list(classes) if classes_to_plot is None else list(classes_to_plot)
    known = classes.tolist()
    for c in wanted:
        c = c.item() if isinstance(c, np.generic) else c
        if c not in known:
            raise InvalidValueError(f"{what}: classes_to_plot has {c!r}, which is not a class in y_true")
        column = int(columns[known.index(c)])
        if labels is not None and integral:
            index = int(c) if by_value else column
            if index >= len(labels):
                raise InvalidValueError(f"{what}: labels has no name for class {c!r}")
            name = labels[index]
        else:
            name = c
        yield name, y == c, p[:, column]


def pr_curve(y_true: Any = None, y_probas: Any = None, labels: Sequence[str] | None = None,
             classes_to_plot: Sequence[Any] | None = None, interp_size: int = 21,
             title: str = "Precision-Recall Curve", split_table: bool = False) -> CustomChart:
    """Precision against recall for each class (one against the rest), interpolated at
    `interp_size` recall values from 0 to 1: at recall r, the best precision of any threshold
    reaching recall >= r."""
    if not isinstance(interp_size, int) or interp_size < 2:
        raise InvalidValueError(f"pr_curve: interp_size must be an int >= 2, got {interp_size!r}")
    y, p = _scores(y_true, y_probas, "pr_curve")
    at = np.linspace(0.0, 1.0, interp_size)
    table = Table(columns=["class", "recall", "precision"])
    for name, positive, scores in _per_class(y, p, labels, classes_to_plot, "pr_curve"):
        precision, recall, _ = curves.pr_points(positive, scores)
        for r, q in zip(at.tolist(), curves.interpolated_precision(precision, recall, at).tolist()):
            table.add_data(name, r, q)
    return CustomChart("wandb/area-under-curve/v0", table,
                       {"x": "recall", "y": "precision", "class": "class"},
                       {"title": title, "x-axis-title": "Recall", "y-axis-title": "Precision"},
                       split_table)


def roc_curve(y_true: Any = None, y_probas: Any = None, labels: Sequence[str] | None = None,
              classes_to_plot: Sequence[Any] | None = None, title: str = "ROC Curve",
              split_table: bool = False) -> CustomChart:
    """True positive rate against false positive rate for each class (one against the rest)."""
    y, p = _scores(y_true, y_probas, "roc_curve")
    table = Table(columns=["class", "fpr", "tpr"])
    for name, positive, scores in _per_class(y, p, labels, classes_to_plot, "roc_curve"):
        fpr, tpr, _ = curves.roc_points(positive, scores)
        for f, t in zip(fpr.tolist(), tpr.tolist()):
            table.add_data(name, f, t)
    return CustomChart("wandb/area-under-curve/v0", table,
                       {"x": "fpr", "y": "tpr", "class": "class"},
                       {"title": title, "x-axis-title": "False positive rate",
                        "y-axis-title": "True positive rate"}, split_table)


def confusion_matrix(probs: Any = None, y_true: Any = None, preds: Any = None,
                     class_names: Sequence[str] | None = None,
                     title: str = "Confusion Matrix Curve", split_table: bool = False) -> CustomChart:
    """Counts of (actual, predicted) class pairs, every pair listed. Give `preds` or `probs`
    (whose argmax is the prediction). With `class_names`, classes are indices into it;
    without, the sorted distinct values of y_true and preds, named Class_1, Class_2, ..."""
    if (probs is None) == (preds is None):
        raise InvalidValueError("confusion_matrix needs exactly one of probs and preds")
    if y_true is None:
        raise InvalidValueError("confusion_matrix needs y_true")
    actual = np.asarray(y_true)
    if probs is not None:
        scores = np.asarray(probs, dtype=np.float64)
        if scores.ndim != 2:
            raise InvalidValueError(f"confusion_matrix: probs must be 2-d, got shape {scores.shape}")
        predicted = scores.argmax(axis=1)
    else:
        predicted = np.asarray(preds)
    if actual.ndim != 1 or actual.shape != predicted.shape:
        raise InvalidValueError(
            f"confusion_matrix: y_true and the predictions must be 1-d of one length, got "
            f"{actual.shape} and {predicted.shape}"
        )
    if class_names is not None:
        names = list(class_names)
        for what, values in (("y_true", actual), ("predictions", predicted)):
            if values.size and (not np.issubdtype(values.dtype, np.integer)
                                or values.min() < 0 or values.max() >= len(names)):
                raise InvalidValueError(
                    f"confusion_matrix: {what} must be class indices 0..{len(names) - 1} "
                    f"into class_names"
                )
        a, q = actual.astype(np.int64), predicted.astype(np.int64)
    else:
        classes = np.unique(np.concatenate([actual, predicted]))
        names = [f"Class_{i + 1}" for i in range(len(classes))]
        a, q = np.searchsorted(classes, actual), np.searchsorted(classes, predicted)
    counts = curves.confusion_counts(a, q, len(names))
    table = Table(columns=["Actual", "Predicted", "nPredictions"])
    for i, actual_name in enumerate(names):
        for j, predicted_name in enumerate(names):
            table.add_data(actual_name, predicted_name, int(counts[i, j]))
    return CustomChart("wandb/confusion_matrix/v1", table,
                       {"Actual": "Actual", "Predicted": "Predicted", "nPredictions": "nPredictions"},
                       {"title": title}, split_table)


def line(table: Table, x: str, y: str, stroke: str | None = None, title: str = "",
         split_table: bool = False) -> CustomChart:
    """A line of column `y` against column `x` (one line per value of `stroke`)."""
    return CustomChart("wandb/line/v0", table, {"x": x, "y": y, "stroke": stroke},
                       {"title": title}, split_table)


def scatter(table: Table, x: str, y: str, title: str = "", split_table: bool = False) -> CustomChart:
    """Points of column `y` against column `x`."""
    return CustomChart("wandb/scatter/v0", table, {"x": x, "y": y}, {"title": title}, split_table)


def bar(table: Table, label: str, value: str, title: str = "", split_table: bool = False) -> CustomChart:
    """A bar per row: height `value`, named by `label`."""
    return CustomChart("wandb/bar/v0", table, {"label": label, "value": value}, {"title": title},
                       split_table)


def histogram(table: Table, value: str, title: str = "", split_table: bool = False) -> CustomChart:
    """The distribution of column `value` (binned when drawn)."""
    return CustomChart("wandb/histogram/v0", table, {"value": value}, {"title": title}, split_table)


def line_series(xs: Any, ys: Any, keys: Sequence[str] | None = None, title: str = "",
                xname: str = "x", split_table: bool = False) -> CustomChart:
    """Several lines in one chart: `ys` is a list of lines, `xs` one x list for all of them
    or one per line; `keys` name the lines (default key_0, key_1, ...)."""
    lines = [np.asarray(line_y).tolist() for line_y in ys]
    xs_list = np.asarray(xs, dtype=object) if not isinstance(xs, np.ndarray) else xs
    shared = xs_list.ndim == 1 and not any(isinstance(v, (list, tuple, np.ndarray)) for v in xs_list)
    x_lines = [list(xs)] * len(lines) if shared else [np.asarray(v).tolist() for v in xs]
    if len(x_lines) != len(lines):
        raise InvalidValueError(f"line_series: {len(x_lines)} x lists for {len(lines)} lines")
    names = [f"key_{i}" for i in range(len(lines))] if keys is None else list(keys)
    if len(names) != len(lines):
        raise InvalidValueError(f"line_series: {len(names)} keys for {len(lines)} lines")
    table = Table(columns=["lineKey", "lineVal", "step"])
    for name, x_line, y_line in zip(names, x_lines, lines):
        if len(x_line) != len(y_line):
            raise InvalidValueError(
                f"line_series: line {name!r} has {len(y_line)} y values and {len(x_line)} x values"
            )
        for x, y in zip(x_line, y_line):
            table.add_data(name, y, x)
    return CustomChart("wandb/lineseries/v0", table,
                       {"step": "step", "lineKey": "lineKey", "lineVal": "lineVal"},
                       {"title": title, "xname": xname}, split_table)
