"""Logged tables on the read side: `table('<key>')` in Api.sql and the public Run's table().

Tables are logged by real runs (run.log) and read back through Api.sql, the public Run and
plain DuckDB; references that could not come from runlake are written as segments by hand.
"""

from __future__ import annotations


import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import runlake
from runlake import InvalidNameError, InvalidValueError, RunNotFoundError, Table
from runlake.engine.layout import RunPaths
from runlake.query.tables import table_calls


def log_tables(root, run_id: str, key: str, values: dict[int, object], project="p") -> None:
    """A run that logs a few metrics, then each value (a Table or a chart) at its step."""
    with runlake.init(settings={"root": root}, project=project, id=run_id, reinit="finish_previous") as run:
        for s in range(3):
            run.log({"loss": 1.0 / (s + 1)})
        for step, value in values.items():
            run.log({key: value}, step=step)


def make_run(root, run_id: str, project="p", steps=3) -> None:
    with runlake.init(settings={"root": root}, project=project, id=run_id, reinit="finish_previous") as run:
        for s in range(steps):
            run.log({"loss": 1.0 / (s + 1)})


def preds(scale: float) -> Table:
    return Table(columns=["id", "label", "score"],
                 data=[[i, "cat" if i % 2 else "dog", scale * i] for i in range(4)])


@pytest.fixture
def store(root):
    log_tables(root, "run-a", "preds", {10: preds(1.0), 20: preds(2.0)})
    log_tables(root, "run-b", "preds", {10: preds(10.0)})
    return root


def test_readme_example_every_table_of_a_key_across_steps_and_runs(store):
    api = runlake.Api(root=store)
    got = api.sql("SELECT run_id, _step, avg(score) FROM table('preds') GROUP BY ALL ORDER BY ALL").fetchall()
    assert got == [("run-a", 10, 1.5), ("run-a", 20, 3.0), ("run-b", 10, 15.0)]
    rel = api.sql("SELECT * FROM table('preds') WHERE label = ? ORDER BY run_id, _step, id", ["cat"])
    assert rel.columns == ["entity", "project", "run_id", "_step", "id", "label", "score"]
    assert rel.fetchall()[0] == ("local", "p", "run-a", 10, 1, "cat", 1.0)
    # joins with the other views, and twice in one query
    joined = api.sql("SELECT r.state, count(*) FROM table('preds') t JOIN runs r ON r.id = t.run_id"
                     " WHERE t._step IN (SELECT _step FROM TABLE('preds')) GROUP BY ALL").fetchall()
    assert joined == [("finished", 12)]


def test_the_stored_file_is_plain_parquet(store):
    files = sorted(store.glob("runs/*/*/run_id=run-a/files/media/tables/*.table.parquet"))
    assert len(files) == 2
    got = duckdb.sql(f"SELECT sum(score) FROM read_parquet('{files[0]}')").fetchall()[0][0]
    assert got in (6.0, 12.0)


def test_public_run_table_returns_a_dataframe(store):
    run = runlake.Api(root=store).run("p/run-a")
    last = run.table("preds")
    assert last.columns == ["id", "label", "score"] and last["score"].to_list() == [0, 2, 4, 6]
    first = run.table("preds", step=10, format="pandas")
    assert first["score"].tolist() == [0, 1, 2, 3]
    assert run.table("preds", step=20, format="records")[1] == {"id": 1, "label": "cat", "score": 2.0}
    with pytest.raises(RunNotFoundError, match=r"at step 11; it did at steps \[10, 20\]"):
        run.table("preds", step=11)
    with pytest.raises(RunNotFoundError, match="logged no key 'nope'"):
        run.table("nope")
    with pytest.raises(InvalidValueError, match="not tables"):
        run.table("loss")


def test_charts_count_as_their_table(root):
    chart = runlake.plot.confusion_matrix(y_true=[0, 1, 1], preds=[0, 1, 0], class_names=["a", "b"])
    log_tables(root, "run-c", "cm", {5: chart})
    api = runlake.Api(root=root)
    got = api.sql("SELECT Actual, Predicted, nPredictions FROM table('cm') ORDER BY ALL").fetchall()
    assert got == [("a", "a", 1), ("a", "b", 0), ("b", "a", 1), ("b", "b", 1)]
    assert api.run("p/run-c").table("cm")["nPredictions"].to_list() == [1, 0, 1, 1]


def test_tables_of_different_columns_union_by_name(root):
    log_tables(root, "run-d", "t", {5: Table(columns=["a"], data=[[1]]),
                                    6: Table(columns=["a", "b"], data=[[2, "x"]])})
    got = runlake.Api(root=root).sql("SELECT _step, a, b FROM table('t') ORDER BY _step").fetchall()
    assert got == [(5, 1, None), (6, 2, "x")]


def test_unknown_and_non_table_keys_are_clear_errors(store):
    api = runlake.Api(root=store)
    with pytest.raises(RunNotFoundError, match="no logged table under key 'nope'"):
        api.sql("SELECT * FROM table('nope')")
    with pytest.raises(InvalidValueError, match="key 'loss' holds double values, not logged tables"):
        api.sql("SELECT * FROM table('loss')")
    # a key that is SQL stays a key: it must name a history column, and is quoted
    with pytest.raises(RunNotFoundError):
        api.sql("""SELECT * FROM table('x"; DROP VIEW history; --')""")
    assert api.sql("SELECT count(*) FROM history").fetchall()[0][0] == 9


def test_unsafe_reference_paths_are_refused(root):
    make_run(root, "run-e")
    paths = RunPaths.of(root, "local", "p", "run-e")
    pq.write_table(pa.Table.from_pylist([{"_step": 9, "_runtime": 0.0, "_timestamp": 0.0, "t": {
        "_type": "table-file", "path": "../../../../secret.parquet"}}]), paths.segment_file(5))
    with pytest.raises(InvalidNameError, match="unsafe table file path"):
        runlake.Api(root=root).sql("SELECT * FROM table('t')")


def test_table_calls_skip_literals_identifiers_and_comments():
    sql = ("SELECT 'table(''a'')', \"table('b')\" FROM table('c') -- table('d')\n"
           " JOIN TABLE ( 'it''s' ) USING (x) /* table('e') */ WHERE mytable('f')")
    assert [k for _, _, k in table_calls(sql)] == ["c", "it's"]


def test_a_query_without_table_calls_is_untouched(store):
    api = runlake.Api(root=store)
    assert api.sql("SELECT 'table(''preds'')' AS s").fetchall() == [("table('preds')",)]


def test_a_table_column_named_like_a_run_column_is_renamed_not_lost(root):
    log_tables(root, "run-f", "t", {7: Table(columns=["_step", "run_id"], data=[[1, "mine"]])})
    rel = runlake.Api(root=root).sql("SELECT * FROM table('t')")
    assert rel.columns == ["entity", "project", "run_id", "_step", "_step_1", "run_id_1"]
    assert rel.fetchall() == [("local", "p", "run-f", 7, 1, "mine")]


# -- through run.log (the media log path) ------------------------------------------------------

def test_tables_logged_by_runs_are_one_query_away(root):
    ids = []
    for scale in (1.0, 10.0):
        with runlake.init(settings={"root": root}, project="vision", reinit="finish_previous") as run:
            for step in range(3):
                run.log({"preds": preds(scale * (step + 1)), "loss": 1.0 / (step + 1)})
        ids.append(run.id)
    api = runlake.Api(root=root)
    got = api.sql("SELECT run_id, _step, avg(score) FROM table('preds') GROUP BY ALL ORDER BY ALL").fetchall()
    expected = sorted((rid, step, 1.5 * scale * (step + 1))
                      for rid, scale in zip(ids, (1.0, 10.0)) for step in range(3))
    assert [(r, s, pytest.approx(v)) for r, s, v in got] == expected
    assert api.run(f"vision/{ids[1]}").table("preds", step=1)["score"].to_list() == [0, 20, 40, 60]


def test_a_live_runs_tables_are_in_the_view(root):
    run = runlake.init(settings={"root": root}, project="live")
    run.log({"preds": preds(1.0)})
    run._flush()  # durable in the WAL, its file written before the row
    try:
        got = runlake.Api(root=root).sql("SELECT count(*) FROM table('preds')").fetchall()
        assert got == [(4,)]
    finally:
        run.finish()


def test_the_cli_sql_command_takes_table_calls(store, capsys):
    from runlake.cli.commands import main

    assert main(["sql", "--dir", str(store), "SELECT count(*) AS n FROM table('preds')"]) == 0
    cells = [line.strip("│ ") for line in capsys.readouterr().out.splitlines() if "│" in line]
    assert cells[0] == "n" and cells[-1] == "12"


def test_a_symlinked_media_folder_pointing_outside_is_refused(store, tmp_path):
    outside = tmp_path / "elsewhere"
    (outside / "tables").mkdir(parents=True)
    files = RunPaths.of(store, "local", "p", "run-b").files_dir
    media = files / "media"
    for f in (media / "tables").iterdir():
        (outside / "tables" / f.name).write_bytes(f.read_bytes())
    import shutil

    shutil.rmtree(media)
    media.symlink_to(outside)
    with pytest.raises(InvalidNameError, match="resolves outside"):
        runlake.Api(root=store).sql("SELECT count(*) FROM table('preds')")
