"""Video, Audio, Object3D, Html, matplotlib and Plotly figures: stored files read back."""

from __future__ import annotations

import io
import json
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

import runlake
from tests.helpers import rows


def log_one(root: Path, value, key: str = "v") -> tuple[dict, Path]:
    with runlake.init(settings={"root": root}) as run:
        run.log({key: value})
    ref = rows(root, run.id)[-1][key]
    return ref, Path(run.dir) / ref["path"] if "path" in ref else Path(run.dir)


# -- Video -----------------------------------------------------------------------------------


def _distinct_frames(t: int = 5, h: int = 6, w: int = 8) -> np.ndarray:
    """(t, 3, h, w) frames of a few exact colours each (GIF palettes hold them exactly)."""
    frames = np.zeros((t, 3, h, w), dtype=np.uint8)
    for i in range(t):
        frames[i, :, : h // 2] = np.array([40 * i, 255 - 40 * i, 100])[:, None, None]
        frames[i, :, h // 2:] = np.array([0, 20 * i, 250])[:, None, None]
    return frames


def _gif_frames(path: Path) -> list[np.ndarray]:
    out = []
    with PILImage.open(path) as gif:
        for i in range(gif.n_frames):
            gif.seek(i)
            out.append(np.asarray(gif.convert("RGB")))
    return out


def test_a_gif_video_round_trips_its_frames(root):
    frames = _distinct_frames()
    ref, path = log_one(root, runlake.Video(frames, fps=4, caption="clip"))
    assert ref["path"].startswith("media/videos/") and ref["path"].endswith(".gif")
    assert (ref["_type"], ref["format"], ref["fps"], ref["frames"], ref["width"], ref["height"],
            ref["caption"]) == ("video-file", "gif", 4, 5, 8, 6, "clip")
    got = _gif_frames(path)
    assert len(got) == 5
    for g, want in zip(got, frames):
        assert np.array_equal(g, np.moveaxis(want, 0, -1))
    with PILImage.open(path) as gif:
        assert gif.info["duration"] == 250


def test_a_batch_of_videos_is_tiled_into_a_grid(root):
    batch = np.stack([_distinct_frames(3, 4, 4), 255 - _distinct_frames(3, 4, 4)])  # (2, 3, 3, 4, 4)
    video = runlake.Video(batch)
    assert (video.frames, video.height, video.width) == (3, 4, 8)  # 1 row x 2 columns
    _, path = log_one(root, video)
    first = _gif_frames(path)[0]
    assert np.array_equal(first[:, :4], np.moveaxis(batch[0, 0], 0, -1))
    assert np.array_equal(first[:, 4:], np.moveaxis(batch[1, 0], 0, -1))


def test_float_and_gray_frames(root):
    gray = _distinct_frames()[:, :1]
    _, path = log_one(root, runlake.Video(gray / 255.0))
    assert np.array_equal(_gif_frames(path)[0][..., 0], gray[0, 0])


@pytest.mark.parametrize("fmt", ["mp4", "webm", "ogg"])
def test_mp4_webm_ogg_through_the_video_extra(root, fmt):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    frames = np.random.default_rng(0).integers(0, 256, (6, 3, 15, 21), dtype=np.uint8)  # odd sizes
    ref, path = log_one(root, runlake.Video(frames, fps=5, format=fmt))
    assert ref["format"] == fmt and path.suffix == f".{fmt}"
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    assert sum(1 for _ in reader) == 6
    assert meta["fps"] == 5 or fmt == "ogg"  # ffmpeg reports no frame rate for this ogg


def test_a_missing_video_extra_names_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # as if not installed
    with pytest.raises(runlake.MissingExtraError, match=r"runlake\[video\]"):
        runlake.Video(_distinct_frames(), format="mp4")
    runlake.Video(_distinct_frames())  # gif needs only Pillow


def test_a_video_file_is_stored_as_it_is(root, tmp_path):
    src = tmp_path / "clip.gif"
    PILImage.fromarray(np.zeros((4, 4, 3), np.uint8)).save(src)
    ref, path = log_one(root, runlake.Video(str(src)))
    assert path.read_bytes() == src.read_bytes() and ref["format"] == "gif"


@pytest.mark.parametrize("data, match", [
    (np.zeros((3, 2, 4, 4)), "shape"),
    (np.zeros((4, 4, 3)), "shape"),
    (np.full((2, 3, 4, 4), np.nan), "NaN"),
])
def test_bad_videos_are_refused(data, match):
    with pytest.raises(runlake.InvalidValueError, match=match):
        runlake.Video(data)


def test_bad_video_arguments_are_refused(tmp_path):
    with pytest.raises(runlake.InvalidValueError, match="format 'avi'"):
        runlake.Video(_distinct_frames(), format="avi")
    with pytest.raises(runlake.InvalidValueError, match="fps"):
        runlake.Video(_distinct_frames(), fps=0)
    with pytest.raises(runlake.InvalidValueError, match="must be one of"):
        runlake.Video(str(tmp_path / "x.avi"))


# -- Audio -----------------------------------------------------------------------------------


def _read_wav(path: Path) -> tuple[int, int, int, bytes]:
    with wave.open(str(path)) as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.readframes(w.getnframes())


def test_float_audio_round_trips_as_16_bit_wav(root):
    t = np.linspace(0, 1, 8000, endpoint=False)
    samples = 0.5 * np.sin(2 * np.pi * 440 * t)
    ref, path = log_one(root, runlake.Audio(samples, sample_rate=8000, caption="la"))
    assert (ref["_type"], ref["format"], ref["sample_rate"], ref["duration"], ref["channels"],
            ref["caption"]) == ("audio-file", "wav", 8000, 1.0, 1, "la")
    rate, channels, width, frames = _read_wav(path)
    assert (rate, channels, width) == (8000, 1, 2)
    back = np.frombuffer(frames, dtype="<i2")
    assert np.array_equal(back, np.rint(samples * 32767).astype(np.int16))


def test_int16_stereo_audio_keeps_every_sample(root):
    samples = np.random.default_rng(2).integers(-30000, 30000, (1000, 2), dtype=np.int16)
    ref, path = log_one(root, runlake.Audio(samples, sample_rate=44100))
    rate, channels, width, frames = _read_wav(path)
    assert (rate, channels, width, ref["channels"]) == (44100, 2, 2, 2)
    assert np.array_equal(np.frombuffer(frames, dtype="<i2").reshape(-1, 2), samples)


def test_a_wav_path_is_stored_as_it_is_with_its_header_read(root, tmp_path):
    src = tmp_path / "a.wav"
    with wave.open(str(src), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x01" * 4000)
    ref, path = log_one(root, runlake.Audio(str(src)))
    assert path.read_bytes() == src.read_bytes()
    assert (ref["sample_rate"], ref["duration"]) == (16000, 0.25)


def test_bad_audio_is_refused():
    with pytest.raises(runlake.InvalidValueError, match="sample_rate"):
        runlake.Audio(np.zeros(10))
    with pytest.raises(runlake.InvalidValueError, match="shape"):
        runlake.Audio(np.zeros((2, 2, 2)), sample_rate=10)
    with pytest.raises(runlake.InvalidValueError, match="NaN"):
        runlake.Audio(np.array([0.0, np.nan]), sample_rate=10)
    with pytest.raises(runlake.InvalidValueError, match="sample_rate"):
        runlake.Audio(np.zeros(10), sample_rate=-1)


# -- Object3D --------------------------------------------------------------------------------

OBJ = "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"


def test_obj_gltf_glb_files_and_file_objects(root, tmp_path):
    (tmp_path / "sample.obj").write_text(OBJ)
    (tmp_path / "sample.gltf").write_text(json.dumps({"asset": {"version": "2.0"}}))
    glb = b"glTF\x02\x00\x00\x00" + bytes(range(256))  # binary: not valid UTF-8
    (tmp_path / "sample.glb").write_bytes(glb)
    with runlake.init(settings={"root": root}) as run:
        with open(tmp_path / "sample.glb") as text_mode:  # as wandb's Run reference does
            run.log({"samples": [runlake.Object3D(open(tmp_path / "sample.obj")),
                                 runlake.Object3D(str(tmp_path / "sample.gltf")),
                                 runlake.Object3D(text_mode)]})
    entry = rows(root)[0]["samples"]
    assert entry["_type"] == "media/list" and entry["count"] == 3
    formats = [i["format"] for i in entry["items"]]
    assert formats == ["obj", "gltf", "glb"]
    stored = [(Path(run.dir) / i["path"]).read_bytes() for i in entry["items"]]
    assert stored[0] == OBJ.encode() and stored[2] == glb
    assert all(i["path"].startswith("media/object3D/") for i in entry["items"])


def test_a_file_object_without_a_path_is_read():
    obj = io.StringIO(OBJ)
    obj.name = "mesh.obj"
    assert runlake.Object3D(obj)._data == OBJ.encode()


@pytest.mark.parametrize("columns", [3, 4, 6])
def test_point_clouds_are_stored_as_pts_json(root, columns):
    cloud = np.random.default_rng(3).integers(0, 200, (50, columns)).astype(np.float64)
    ref, path = log_one(root, runlake.Object3D(cloud))
    assert ref["format"] == "pts.json" and ref["points"] == 50 and path.name.endswith(".pts.json")
    assert json.loads(path.read_text()) == cloud.tolist()


def test_bad_objects_are_refused(tmp_path):
    with pytest.raises(runlake.InvalidValueError, match="N×3"):
        runlake.Object3D(np.zeros((4, 5)))
    with pytest.raises(runlake.InvalidValueError, match="NaN"):
        runlake.Object3D(np.full((2, 3), np.nan))
    with pytest.raises(runlake.InvalidValueError, match="must be one of"):
        runlake.Object3D(str(tmp_path / "mesh.fbx"))
    with pytest.raises(FileNotFoundError, match="no file at"):
        runlake.Object3D(str(tmp_path / "missing.obj"))


# -- Html --------------------------------------------------------------------------------------


def test_html_is_stored_with_the_head_injected(root, tmp_path):
    ref, path = log_one(root, runlake.Html("<html><body><a href='x'>x</a></body></html>"))
    text = path.read_text()
    assert ref["_type"] == "html-file" and path.suffix == ".html"
    assert text.startswith('<html><head><meta charset="utf-8"><base target="_blank"></head><body>')
    assert runlake.Html("<p>raw</p>", inject=False).html == "<p>raw</p>"
    page = tmp_path / "page.html"
    page.write_text("<head><title>t</title></head>ü")
    assert runlake.Html(str(page)).html.endswith("<title>t</title></head>ü")
    assert runlake.Html(io.StringIO("<b>x</b>"), inject=False).html == "<b>x</b>"
    with pytest.raises(runlake.InvalidValueError, match="Html takes"):
        runlake.Html(42)


# -- matplotlib and Plotly ---------------------------------------------------------------------


def test_a_matplotlib_figure_is_stored_as_png(root):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1.5), dpi=50)
    ax.plot([0, 1], [0, 1])
    ref, path = log_one(root, fig, key="chart")
    plt.close(fig)
    assert ref["_type"] == "image-file" and path.suffix == ".png"
    with PILImage.open(path) as img:
        assert img.size == (100, 75) == (ref["width"], ref["height"])


def test_a_plotly_figure_is_stored_as_its_json(root):
    go = pytest.importorskip("plotly.graph_objects")
    fig = go.Figure(go.Bar(x=["a", "b"], y=[1, 3]))  # (plotly 6 writes arrays as base64 "bdata")
    ref, path = log_one(root, fig, key="plot")
    assert ref["_type"] == "plotly-file" and path.name.endswith(".plotly.json")
    spec = json.loads(path.read_text())
    assert spec["data"][0]["type"] == "bar" and spec["data"][0]["y"] == [1, 3]
    assert runlake.Plotly({"data": []})._json == '{"data": []}'
    with pytest.raises(runlake.InvalidValueError, match="Plotly figure"):
        runlake.Plotly([1, 2])


def test_an_image_of_a_matplotlib_figure_and_a_figure_that_fails_to_render(root):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1), dpi=40)
    ax.plot([0, 1])
    ref, path = log_one(root, runlake.Image(fig, caption="fig"))
    assert (ref["width"], ref["height"], ref["caption"]) == (40, 40, "fig")

    def broken(*_, **__):
        raise RuntimeError("no renderer")

    fig.savefig = broken
    with runlake.init(settings={"root": root}) as run:
        with pytest.raises(runlake.InvalidValueError, match="'chart'.*no renderer"):
            run.log({"chart": fig, "ok": 1})
        run.log({"ok": 2})
    assert [r["ok"] for r in rows(root, run.id)] == [2]  # the refused call logged nothing
    plt.close(fig)


def test_a_video_file_object_is_stored_as_it_is(root, tmp_path):
    buf = io.BytesIO()
    PILImage.fromarray(np.zeros((4, 4, 3), np.uint8)).save(buf, format="GIF")
    ref, path = log_one(root, runlake.Video(io.BytesIO(buf.getvalue()), format="gif"))
    assert path.read_bytes() == buf.getvalue() and ref["format"] == "gif"
    with pytest.raises(runlake.InvalidValueError, match="needs format="):
        runlake.Video(io.BytesIO(b"x"))
    (tmp_path / "t.gif").write_bytes(buf.getvalue())
    with open(tmp_path / "t.gif", encoding="latin-1") as text_mode, pytest.raises(
        runlake.InvalidValueError, match="binary mode"
    ):
        runlake.Video(text_mode)
