"""runlake.plot and plot_table: curves against values computed by hand, the tables and the
Vega-Lite specs they produce, bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

import runlake
from runlake import CustomChart, InvalidValueError, Table
from runlake.tables import plot
from runlake.tables.curves import interpolated_precision, pr_points, roc_points

from tests.helpers import Ctx

# Four examples, class 1 at the last two; class 1's scores 0.1, 0.4, 0.35, 0.8.
Y = [0, 0, 1, 1]
P1 = [0.1, 0.4, 0.35, 0.8]
PROBAS = [[1 - s, s] for s in P1]


def rows_of(chart: CustomChart, cls=None) -> list[tuple]:
    return [tuple(r[1:]) for r in chart.table.data if cls is None or r[0] == cls]


def test_pr_points_by_hand():
    # thresholds 0.1, 0.35, 0.4, 0.8 predict 4, 3, 2, 1 positives holding 2, 2, 1, 1 true ones
    precision, recall, thresholds = pr_points(np.array(Y), np.array(P1))
    assert precision.tolist() == pytest.approx([2 / 4, 2 / 3, 1 / 2, 1, 1])
    assert recall.tolist() == [1, 1, 0.5, 0.5, 0]
    assert thresholds.tolist() == [0.1, 0.35, 0.4, 0.8]
    # interpolated: the best precision at recall >= r
    at = np.array([0, 0.25, 0.5, 0.75, 1])
    assert interpolated_precision(precision, recall, at).tolist() == pytest.approx([1, 1, 1, 2 / 3, 2 / 3])


def test_pr_curve_table_is_the_interpolated_curve_of_each_class():
    chart = plot.pr_curve(Y, PROBAS, interp_size=5)
    assert chart.table.columns == ["class", "recall", "precision"]
    expected = [(0.0, 1.0), (0.25, 1.0), (0.5, 1.0), (0.75, pytest.approx(2 / 3)), (1.0, pytest.approx(2 / 3))]
    assert rows_of(chart, 1) == expected
    # class 0's scores are 1 - s: 0.9 (+), 0.65 (-), 0.6 (+), 0.2 (-), the same curve by symmetry
    assert rows_of(chart, 0) == expected
    assert chart.spec_name == "wandb/area-under-curve/v0"
    assert chart.fields == {"x": "recall", "y": "precision", "class": "class"}
    assert chart.string_fields["title"] == "Precision-Recall Curve"
    assert len(plot.pr_curve(Y, PROBAS).table.data) == 2 * 21  # wandb's interp_size


def test_pr_curve_labels_and_classes_to_plot():
    chart = plot.pr_curve(np.array(Y), np.array(PROBAS), labels=["neg", "pos"], classes_to_plot=[1],
                          interp_size=3)
    assert chart.table.data == [["pos", 0.0, 1.0], ["pos", 0.5, 1.0], ["pos", 1.0, pytest.approx(2 / 3)]]
    # a 1-d y_probas is the score of class 1
    assert plot.pr_curve(Y, P1, interp_size=3).table.data[3:] == [
        [1, 0.0, 1.0], [1, 0.5, 1.0], [1, 1.0, pytest.approx(2 / 3)]]


def test_roc_curve_by_hand():
    # by threshold 0.8, 0.4, 0.35, 0.1: (fp, tp) = (0, 1), (1, 1), (1, 2), (2, 2) of 2 and 2
    fpr, tpr, thresholds = roc_points(np.array(Y), np.array(P1))
    assert fpr.tolist() == [0, 0, 0.5, 0.5, 1] and tpr.tolist() == [0, 0.5, 0.5, 1, 1]
    assert thresholds.tolist() == [np.inf, 0.8, 0.4, 0.35, 0.1]
    chart = plot.roc_curve(Y, PROBAS, labels=["neg", "pos"], classes_to_plot=[1])
    assert chart.table.data == [["pos", f, t] for f, t in zip(fpr.tolist(), tpr.tolist())]
    assert chart.fields == {"x": "fpr", "y": "tpr", "class": "class"}


def test_roc_drops_collinear_points():
    # scores 0.9, 0.8, 0.7 all positive then 0.1 negative: (0, 1/3) and (0, 2/3) are on the
    # segment from (0, 0) to (0, 1) and are dropped, as scikit-learn does
    fpr, tpr, _ = roc_points(np.array([1, 1, 1, 0]), np.array([0.9, 0.8, 0.7, 0.1]))
    assert list(zip(fpr.tolist(), tpr.tolist())) == [(0, 0), (0, 1 / 3), (0, 1), (1, 1)]


def test_string_classes_match_columns_in_sorted_order():
    chart = plot.roc_curve(["b", "a", "b"], [[0.2, 0.8], [0.9, 0.1], [0.3, 0.7]])
    assert {r[0] for r in chart.table.data} == {"a", "b"}
    assert rows_of(chart, "a") == [(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)]


def test_confusion_matrix_counts():
    chart = plot.confusion_matrix(y_true=[0, 1, 2, 2, 1], preds=[0, 2, 2, 1, 1],
                                  class_names=["a", "b", "c"])
    counts = {(a, p): n for a, p, n in chart.table.data}
    assert len(counts) == 9 and sum(counts.values()) == 5
    assert counts[("a", "a")] == 1 and counts[("b", "c")] == 1 and counts[("b", "b")] == 1
    assert counts[("c", "c")] == 1 and counts[("c", "b")] == 1 and counts[("a", "b")] == 0
    probs = np.eye(3)[[0, 2, 2, 1, 1]] * 0.8 + 0.05
    assert plot.confusion_matrix(probs, [0, 1, 2, 2, 1], class_names=["a", "b", "c"]).table.data == chart.table.data
    named = plot.confusion_matrix(y_true=[5, 7], preds=[7, 7])
    assert named.table.data == [["Class_1", "Class_1", 0], ["Class_1", "Class_2", 1],
                                ["Class_2", "Class_1", 0], ["Class_2", "Class_2", 1]]
    assert named.spec_name == "wandb/confusion_matrix/v1"


def test_line_scatter_bar_histogram_and_line_series():
    t = Table(columns=["step", "loss", "name"], data=[[0, 1.0, "a"], [1, 0.5, "b"]])
    line = plot.line(t, "step", "loss", stroke="name", title="Loss")
    spec = line.vega_lite()
    assert spec["mark"] == "line" and spec["encoding"]["color"]["field"] == "name"
    assert spec["title"] == "Loss" and spec["data"] == {"name": "wandb"}
    assert plot.scatter(t, "step", "loss").vega_lite()["mark"] == "point"
    assert plot.bar(t, "name", "loss").vega_lite()["encoding"]["x"]["field"] == "name"
    assert plot.histogram(t, "loss").vega_lite()["encoding"]["y"]["aggregate"] == "count"
    series = plot.line_series([0, 1], [[1, 2], [3, 4]], keys=["p", "q"], xname="epoch")
    assert series.table.columns == ["lineKey", "lineVal", "step"]
    assert series.table.data == [["p", 1, 0], ["p", 2, 1], ["q", 3, 0], ["q", 4, 1]]
    assert series.vega_lite()["encoding"]["x"]["title"] == "epoch"
    per_line = plot.line_series([[0, 1], [5]], [[1, 2], [3]])
    assert per_line.table.data == [["key_0", 1, 0], ["key_0", 2, 1], ["key_1", 3, 5]]


def test_field_names_with_dots_are_escaped_for_vega_lite():
    t = Table(columns=["train.loss", "x"], data=[[1.0, 0]])
    assert plot.scatter(t, "x", "train.loss").vega_lite()["encoding"]["y"]["field"] == "train\\.loss"


def test_plot_table_is_wandbs_custom_chart():
    t = Table(columns=["x", "y"], data=[[1, 2]])
    run = runlake.init(mode="disabled")
    chart = run.plot_table("wandb/scatter/v0", t, {"x": "x", "y": "y"}, {"title": "t"})
    assert isinstance(chart, CustomChart) and chart.vega_lite()["title"] == "t"
    assert runlake.Run.plot_table is not None and runlake.plot_table("my/own-preset", t, {"v": "x"}).vega_lite() is None


def test_bad_chart_input_is_refused_clearly():
    t = Table(columns=["x", "y"], data=[[1, 2]])
    with pytest.raises(InvalidValueError, match="column 'nope', which the table does not have"):
        plot.line(t, "x", "nope")
    with pytest.raises(InvalidValueError, match="must be a runlake.Table"):
        plot.scatter([[1, 2]], "x", "y")
    with pytest.raises(InvalidValueError, match="needs the fields"):
        runlake.plot_table("wandb/bar/v0", t, {"label": "x"})
    with pytest.raises(InvalidValueError, match="shape"):
        plot.pr_curve([0, 1], [[0.5, 0.5]])
    with pytest.raises(InvalidValueError, match="NaN"):
        plot.roc_curve([0, 1], [[0.5, np.nan], [0.1, 0.9]])
    with pytest.raises(InvalidValueError, match="classes_to_plot has 3"):
        plot.pr_curve(Y, PROBAS, classes_to_plot=[3])
    with pytest.raises(InvalidValueError, match="3 classes but y_probas has 2 columns"):
        plot.pr_curve([0, 1, 2], [[0.5, 0.5], [0.1, 0.9], [0.2, 0.8]])
    with pytest.raises(InvalidValueError, match="class 5 but y_probas has 3 columns"):
        plot.pr_curve([0, 5], [[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    with pytest.raises(InvalidValueError, match="exactly one of probs and preds"):
        plot.confusion_matrix(y_true=[0])
    with pytest.raises(InvalidValueError, match="class indices 0..1"):
        plot.confusion_matrix(y_true=[0, 2], preds=[0, 1], class_names=["a", "b"])
    with pytest.raises(InvalidValueError, match="3 keys for 2 lines"):
        plot.line_series([0], [[1], [2]], keys=["a", "b", "c"])
    with pytest.raises(InvalidValueError, match="interp_size"):
        plot.pr_curve(Y, PROBAS, interp_size=1)


def test_chart_encodes_its_table_as_parquet_and_a_spec_document():
    ctx = Ctx("pr", 4)
    chart = plot.pr_curve(Y, PROBAS, interp_size=5)
    data, suffix, fields = chart._encode(ctx)
    assert suffix == ".chart.json" and chart._log_type == "custom-chart"
    doc = json.loads(data)
    assert doc["spec_name"] == fields["spec_name"] == "wandb/area-under-curve/v0"
    assert doc["table"] == fields["table_path"] and fields["nrows"] == 10
    assert doc["vega_lite"]["encoding"]["x"]["field"] == "recall" and doc["split_table"] is False
    stored = pq.read_table(io.BytesIO(ctx.files[fields["table_path"]]))
    con = duckdb.connect()
    con.register("stored", stored)
    got = con.sql("SELECT class, max(precision) FROM stored GROUP BY class ORDER BY class").fetchall()
    assert got == [(0, 1.0), (1, 1.0)]


# -- through run.log (the media log path) ------------------------------------------------------

def test_reference_pr_curve_example(root, monkeypatch):
    monkeypatch.setenv("RUNLAKE_DIR", str(root))
    y_test = np.array([0, 1, 2, 1, 0, 2])
    y_probas = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7],
                         [0.3, 0.4, 0.3], [0.5, 0.3, 0.2], [0.2, 0.5, 0.3]])
    labels = ["cat", "dog", "owl"]
    import runlake as wandb

    run = wandb.init()
    run.log({"pr": wandb.plot.pr_curve(y_test, y_probas, labels)})
    run.finish()
    [ref] = duckdb.sql(f"SELECT pr FROM read_parquet('{root}/history/**/*.parquet')").fetchall()[0]
    assert ref["_type"] == "custom-chart" and ref["spec_name"] == "wandb/area-under-curve/v0"
    files = Path(run.dir)
    doc = json.loads((files / ref["path"]).read_text())
    assert doc["table"] == ref["table_path"] and doc["vega_lite"]["data"] == {"name": "wandb"}
    table = duckdb.sql(f"SELECT class, count(*) FROM read_parquet('{files / ref['table_path']}')"
                       " GROUP BY class ORDER BY class").fetchall()
    assert table == [("cat", 21), ("dog", 21), ("owl", 21)]


def test_plot_table_logged_and_read_back(root):
    with runlake.init(settings={"root": root}, project="p") as run:
        t = Table(columns=["x", "y"], data=[[i, i * i] for i in range(5)])
        run.log({"custom": run.plot_table("wandb/line/v0", t, {"x": "x", "y": "y"}, {"title": "sq"})})
    got = runlake.Api(root=root).run(f"p/{run.id}").table("custom")
    assert got["y"].to_list() == [0, 1, 4, 9, 16]


def test_the_ith_sorted_class_is_column_i_as_sklearn_orders_predict_proba():
    # scikit-learn's classes_ 3..8 give predict_proba columns 0..5
    y = np.repeat(np.arange(3, 9), 2)
    probas = np.full((12, 6), 0.02)
    probas[np.arange(12), y - 3] = 0.9
    for make in (plot.roc_curve, plot.pr_curve):
        chart = make(y, probas)
        assert {r[0] for r in chart.table.data} == set(range(3, 9))
    roc = plot.roc_curve(y, probas, classes_to_plot=[5])
    assert rows_of(roc, 5)[-2:] == [(0.0, 1.0), (1.0, 1.0)]  # column 2 separates class 5
    named = plot.roc_curve(y, probas, labels=list("abcdef"), classes_to_plot=[3, 8])
    assert {r[0] for r in named.table.data} == {"a", "f"}  # 6 labels: one per column


def test_a_class_missing_from_y_true_does_not_shift_the_columns():
    y = np.array([0, 0, 2, 2])
    probas = np.array([[0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.1, 0.1, 0.8], [0.05, 0.05, 0.9]])
    roc = plot.roc_curve(y, probas, labels=["a", "b", "c"], classes_to_plot=[2])
    assert {r[0] for r in roc.table.data} == {"c"}
    assert rows_of(roc, "c")[-2:] == [(0.0, 1.0), (1.0, 1.0)]
