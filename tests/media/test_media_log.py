"""The media log path: files under media/, typed references in history, summary, errors."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

import runlake
from runlake.media.base import Media  # the contract every media type implements
from tests.helpers import rows, run_json

PIXELS = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)


def _glob(root: Path) -> str:
    return str(root / "history" / "**" / "*.parquet")


def test_an_image_is_a_file_named_like_wandb_and_a_typed_reference(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"img": runlake.Image(PIXELS, caption="c"), "loss": 0.5})
    [row] = rows(root)
    ref = row["img"]
    assert re.fullmatch(r"media/images/img_0_[0-9a-f]{20}\.png", ref["path"])
    data = (Path(run.dir) / ref["path"]).read_bytes()
    assert ref["sha256"] == hashlib.sha256(data).hexdigest()
    assert ref["path"].endswith(f"_{ref['sha256'][:20]}.png")
    assert ref["size"] == len(data)
    assert (ref["_type"], ref["format"], ref["width"], ref["height"], ref["caption"]) == (
        "image-file", "png", 5, 4, "c")
    assert row["loss"] == 0.5


def test_identical_bytes_are_stored_once(root):
    with runlake.init(settings={"root": root}) as run:
        for _ in range(3):
            run.log({"img": runlake.Image(PIXELS)})
        run.log({"other": runlake.Image(PIXELS)})
    paths = {r.get("img", r.get("other"))["path"] for r in rows(root)}
    assert len(paths) == 1
    assert len(list((Path(run.dir) / "media" / "images").iterdir())) == 1


def test_keys_are_made_safe_as_file_names(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"val/ex ample ü": runlake.Image(PIXELS), "..x": runlake.Image(PIXELS + 1)})
    [row] = rows(root)
    name = row["val/ex ample ü"]["path"].split("/")[-1]
    assert name.startswith("val_ex_ample___0_")
    assert row["..x"]["path"].split("/")[-1].startswith("__x_0_")
    for key in ("val/ex ample ü", "..x"):
        assert (Path(run.dir) / row[key]["path"]).is_file()


def test_the_file_name_carries_the_step_it_is_logged_at(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"a": 1}, step=7)
        run.log({"img": runlake.Image(PIXELS)}, commit=False)
        run.log({"b": 2})
        run.log({"img": runlake.Image(PIXELS + 2)}, step=20)
    got = {r["_step"]: r.get("img", {}).get("path", "") for r in rows(root)}
    assert "/img_7_" in got[7] and "/img_20_" in got[20]


def test_a_list_of_images_is_one_entry_that_duckdb_and_polars_unnest(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"examples": [runlake.Image(PIXELS + i, caption=f"field {i}") for i in range(3)]})
    [row] = rows(root)
    entry = row["examples"]
    assert entry["_type"] == "images/separated" and entry["count"] == 3
    assert [item["caption"] for item in entry["items"]] == ["field 0", "field 1", "field 2"]
    got = duckdb.sql(
        f"SELECT item.caption, item.path, item.width FROM (SELECT unnest(examples.items) AS item "
        f"FROM read_parquet('{_glob(root)}', union_by_name = true))"
    ).fetchall()
    assert [g[0] for g in got] == ["field 0", "field 1", "field 2"]
    assert all((Path(run.dir) / g[1]).is_file() and g[2] == 5 for g in got)
    df = (pl.read_parquet(_glob(root)).select(pl.col("examples").struct.field("items"))
          .explode("items").unnest("items"))
    assert df["caption"].to_list() == ["field 0", "field 1", "field 2"]


def test_a_single_media_key_unnests_in_duckdb_and_polars(root):
    with runlake.init(settings={"root": root}) as run:
        for i in range(3):
            run.log({"img": runlake.Image(PIXELS + i, caption=str(i)), "step_loss": i / 2})
    got = duckdb.sql(
        f"SELECT _step, unnest(img) FROM read_parquet('{_glob(root)}', union_by_name = true) "
        "ORDER BY _step").pl()
    assert got["caption"].to_list() == ["0", "1", "2"] and got["width"].to_list() == [5, 5, 5]
    df = pl.read_parquet(_glob(root)).sort("_step").unnest("img")
    assert df["_type"].to_list() == ["image-file"] * 3
    assert all((Path(run.dir) / p).is_file() for p in df["path"].to_list())


def test_nested_dicts_of_media_flatten_like_metrics(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"val": {"img": runlake.Image(PIXELS), "hist": runlake.Histogram([1, 2, 3])}})
    [row] = rows(root)
    assert row["val.img"]["_type"] == "image-file"
    assert row["val.hist"]["_type"] == "histogram"


def test_the_summary_holds_the_reference_of_the_last_value(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"img": runlake.Image(PIXELS)})
        run.log({"img": runlake.Image(PIXELS + 1, caption="last")})
        summary = run.summary["img"]
    assert summary["caption"] == "last" and summary["_type"] == "image-file"
    assert run_json(root, run.id)["summary"]["img"] == summary
    assert rows(root)[-1]["img"]["path"] == summary["path"]


class _Broken(Media):
    _log_type = "broken"
    _folder = "broken"

    def _encode(self, ctx):
        raise RuntimeError("codec exploded")


def test_a_value_that_fails_to_encode_names_its_key_and_nothing_is_logged(root):
    with runlake.init(settings={"root": root}) as run:
        with pytest.raises(runlake.InvalidValueError, match=r"'bad'.*_Broken.*codec exploded"):
            run.log({"bad": _Broken(), "img": runlake.Image(PIXELS), "loss": 1.0})
        run.log({"loss": 2.0})
    got = rows(root)
    assert [r["loss"] for r in got] == [2.0] and [r["_step"] for r in got] == [0]
    assert "bad" not in got[0] and "img" not in got[0]


def test_a_list_mixing_media_and_numbers_is_refused_by_key(root):
    with runlake.init(settings={"root": root}) as run:
        with pytest.raises(runlake.InvalidValueError, match="'mixed'.*mixing media"):
            run.log({"mixed": [runlake.Image(PIXELS), 3], "ok": 1})
        run.log({"ok": 2})
    assert [r["ok"] for r in rows(root)] == [2]  # the refused call logged nothing


def test_the_files_are_on_disk_once_the_rows_are_durable(root):
    with runlake.init(settings={"root": root}) as run:
        for i in range(20):
            run.log({"img": runlake.Image(PIXELS + i)})
        assert run._flush(30)
        refs = [r["img"] for r in _durable_rows(root)]
        assert len(refs) == 20
        assert all((Path(run.dir) / ref["path"]).is_file() for ref in refs)


def _durable_rows(root: Path) -> list[dict]:
    from runlake.engine import wal

    import pyarrow.parquet as pq

    # Segments first: the writer may publish one (and delete its WAL file) while we list.
    segments = [pq.read_table(f) for f in sorted(root.glob("history/*/*/*/part-*.parquet"))]
    frames = [t for f in sorted(root.glob("runs/*/*/*/wal/*.arrows")) for t in wal.read_frames(f)]
    steps = {}
    for table in segments + frames:
        for r in table.to_pylist():
            steps[r["_step"]] = r
    return [steps[s] for s in sorted(steps)]


def test_arrays_of_more_than_32_numbers_become_a_histogram_and_32_stay_a_list(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"arr33": np.arange(33.0), "arr32": np.arange(32.0), "list40": [float(i) for i in range(40)],
                 "strs40": [str(i) for i in range(40)], "grid": np.ones((10, 10))})
    [row] = rows(root)
    assert row["arr32"] == list(np.arange(32.0))
    assert row["strs40"] == [str(i) for i in range(40)]
    assert row["list40"] == [float(i) for i in range(40)]  # a Python list stays a list (wandb)
    for key, data in (("arr33", np.arange(33.0)), ("grid", np.ones(100))):
        counts, edges = np.histogram(data, bins=32)
        assert row[key]["_type"] == "histogram", key
        assert row[key]["values"] == counts.tolist() and row[key]["bins"] == edges.tolist(), key


def test_a_torch_tensor_of_many_numbers_is_a_histogram(root):
    torch = pytest.importorskip("torch")
    with runlake.init(settings={"root": root}) as run:
        run.log({"w": torch.arange(100, dtype=torch.float32)})
    [row] = rows(root)
    assert row["w"]["_type"] == "histogram" and sum(row["w"]["values"]) == 100


def test_media_in_a_disabled_run_are_a_no_op(tmp_path):
    with runlake.init(mode="disabled") as run:
        run.log({"img": runlake.Image(PIXELS)})
    assert not list(tmp_path.rglob("*.png"))


def test_the_api_reads_media_keys_across_runs_of_different_reference_types(root):
    with runlake.init(settings={"root": root}, project="p") as run:
        run.log({"m": runlake.Image(PIXELS)})
    with runlake.init(settings={"root": root}, project="p") as run2:
        run2.log({"m": runlake.Histogram([1.0, 2.0], num_bins=2)})
    api = runlake.Api(root=root)
    got = api.sql("SELECT run_id, m._type AS t, m.width AS w, m.bins AS b FROM history ORDER BY t").fetchall()
    assert [(g[1], g[2], g[3]) for g in got] == [("histogram", None, [1.0, 1.5, 2.0]),
                                                 ("image-file", 5, None)]
    lazy = api.history("p").select(pl.col("m").struct.field("_type")).collect()
    assert sorted(lazy["_type"].to_list()) == ["histogram", "image-file"]
    df = api.run(f"p/{run.id}").history()
    assert df["m"].iloc[0]["_type"] == "image-file"


def test_export_keeps_references_in_parquet_and_writes_them_as_json_in_csv(root, tmp_path):
    import csv
    import json

    import pyarrow.parquet as pq

    with runlake.init(settings={"root": root}, project="p") as run:
        run.log({"img": runlake.Image(PIXELS), "x": 1})
        run.log({"h": runlake.Histogram([1, 2, 3], num_bins=2), "x": 2})
    api = runlake.Api(root=root)
    table = pq.read_table(api.export("p", tmp_path / "out.parquet"))
    assert table.column("img").to_pylist()[0]["width"] == 5
    with open(api.export("p", tmp_path / "out.csv"), newline="") as f:
        got = list(csv.DictReader(f))
    assert json.loads(got[0]["img"])["path"] == rows(root)[0]["img"]["path"]
    assert json.loads(got[1]["h"]) == {"_type": "histogram", "bins": [1.0, 2.0, 3.0], "values": [1, 2]}


def test_a_fork_and_a_resume_keep_their_media_references_valid(root):
    with runlake.init(settings={"root": root}, id="parent") as run:
        for i in range(3):
            run.log({"img": runlake.Image(PIXELS + i)})
    with runlake.init(settings={"root": root}, fork_from="parent?_step=1") as child:
        child.log({"img": runlake.Image(PIXELS + 9)})
    got = rows(root, child.id)
    assert [r["_step"] for r in got] == [0, 1, 2]
    assert all((Path(child.dir) / r["img"]["path"]).is_file() for r in got)
    assert child.summary["img"]["path"] == got[-1]["img"]["path"]
    with runlake.init(settings={"root": root}, id="parent", resume="must") as again:
        assert again.summary["img"]["path"] == rows(root, "parent")[-1]["img"]["path"]
        again.log({"img": runlake.Image(PIXELS + 1)})  # bytes the run has: the same file again
    final = rows(root, "parent")
    assert final[-1]["img"]["sha256"] == final[1]["img"]["sha256"]
    assert all((Path(again.dir) / r["img"]["path"]).is_file() for r in final)


def test_a_media_value_set_in_the_summary_is_stored_as_a_file(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"loss": 1.0})
        run.summary["best"] = runlake.Image(PIXELS, caption="best")
        run.summary.update({"hist": runlake.Histogram([1, 2], num_bins=1), "note": "text"})
    saved = run_json(root, run.id)["summary"]
    assert saved["best"]["caption"] == "best" and saved["note"] == "text"
    assert (Path(run.dir) / saved["best"]["path"]).is_file()
    assert saved["hist"] == {"_type": "histogram", "bins": [1.0, 2.0], "values": [2]}


def test_media_files_are_run_files_for_the_public_api(root):
    with runlake.init(settings={"root": root}, project="p") as run:
        run.log({"img": runlake.Image(PIXELS)})
    path = rows(root)[0]["img"]["path"]
    public = runlake.Api(root=root).run(f"p/{run.id}")
    assert path in [f.name for f in public.files()]
    assert public.file(path).sha256 == rows(root)[0]["img"]["sha256"]


class _Refusing(Media):
    _log_type = "refusing"
    _folder = "refusing"

    def _encode(self, ctx):
        raise runlake.InvalidValueError("this value is not encodable")


def test_an_encoding_error_without_the_key_gets_it(root):
    with runlake.init(settings={"root": root}) as run:
        with pytest.raises(runlake.InvalidValueError,
                           match=r"^log\(\) key 'k': this value is not encodable"):
            run.log({"k": _Refusing(), "ok": 1})
        run.log({"ok": 2})
    assert [r["ok"] for r in rows(root)] == [2]  # the refused call logged nothing


def test_none_under_a_media_key_is_a_null_not_a_lost_run(root):
    """An Image (or Histogram) then None under the same key: the writer built the null from
    the scalar types and failed, losing every row of the run."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with runlake.init(settings={"root": root}) as run:
            run.log({"img": runlake.Image(PIXELS), "h": runlake.Histogram([1, 2])})
            run.log({"img": None, "h": None, "x": 1.0})
    rows = runlake.Api(root).run(run.path).history(samples=None, format="records")
    assert len(rows) == 2 and rows[1]["img"] is None and rows[1]["x"] == 1.0


def test_the_media_file_is_under_run_dir_when_log_returns(root, monkeypatch):
    """wandb writes a media file inside log(); code that reads it right after must find it."""
    import threading

    from runlake.engine import media_files

    slow = threading.Event()  # never set: each write waits its full pause first
    real = media_files.write_file

    def slow_write(*args, **kwargs):
        slow.wait(0.3)
        return real(*args, **kwargs)

    monkeypatch.setattr(media_files, "write_file", slow_write)
    with runlake.init(settings={"root": root}) as run:
        run.log({"img": runlake.Image(PIXELS), "loss": 1.0})
        files = list((Path(run.dir) / "media" / "images").glob("img_0_*.png"))
        assert len(files) == 1 and files[0].stat().st_size > 0
        run.log({"loss": 2.0})  # a row without media does not wait
