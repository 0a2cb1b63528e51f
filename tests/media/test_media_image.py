"""runlake.Image: every input it accepts, read back pixel for pixel with PIL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

import runlake
from tests.helpers import rows

RNG = np.random.default_rng(7)
RGB = RNG.integers(0, 256, (6, 9, 3), dtype=np.uint8)


def logged(root: Path, image: runlake.Image) -> tuple[dict, PILImage.Image]:
    """Log `image`, return its reference and the stored file opened with PIL."""
    with runlake.init(settings={"root": root}) as run:
        run.log({"img": image})
    ref = rows(root, run.id)[-1]["img"]
    pic = PILImage.open(Path(run.dir) / ref["path"])
    pic.load()
    return ref, pic


@pytest.mark.parametrize("name, data, want", [
    ("uint8 RGB", RGB, RGB),
    ("uint8 RGBA", np.dstack([RGB, RGB[..., :1]]), np.dstack([RGB, RGB[..., :1]])),
    ("2-D gray", RGB[..., 0], RGB[..., 0]),
    ("HxWx1", RGB[..., :1], RGB[..., 0]),
    ("float in [0, 1]", RGB / 255.0, RGB),
    ("float32 in [0, 1]", (RGB / 255.0).astype(np.float32), RGB),
    ("float in [0, 255]", RGB.astype(np.float64), RGB),
    ("int64 in [0, 255]", RGB.astype(np.int64), RGB),
    ("bool mask", RGB[..., 0] > 127, (RGB[..., 0] > 127).astype(np.uint8) * 255),
    ("CHW numpy", np.moveaxis(RGB, -1, 0), RGB),
])
def test_numpy_pixels_round_trip_exactly(root, name, data, want):
    ref, pic = logged(root, runlake.Image(data))
    assert np.array_equal(np.asarray(pic), want), name
    assert (ref["width"], ref["height"]) == (want.shape[1], want.shape[0])
    assert ref["mode"] == {2: "L", 3: "RGB", 4: "RGBA"}[want.ndim if want.ndim == 2 else want.shape[2]]


def test_negative_floats_are_rescaled_from_min_max_as_wandb_does(root):
    data = np.array([[-1.0, 0.0], [0.5, 1.0]])
    _, pic = logged(root, runlake.Image(data))
    assert np.asarray(pic).tolist() == [[0, 128], [191, 255]]


def test_a_pil_image_and_a_path_and_another_image(root, tmp_path):
    pil = PILImage.fromarray(RGB, mode="RGB")
    _, pic = logged(root, runlake.Image(pil, caption="pil"))
    assert np.array_equal(np.asarray(pic), RGB)
    path = tmp_path / "myimage.png"
    pil.save(path)
    ref, pic = logged(root, runlake.Image(str(path)))
    assert np.array_equal(np.asarray(pic), RGB) and ref["format"] == "png"
    assert ref["sha256"] == __import__("hashlib").sha256(path.read_bytes()).hexdigest()  # as given
    copy = runlake.Image(runlake.Image(RGB, caption="orig"))
    assert copy.caption == "orig"
    _, pic = logged(root, copy)
    assert np.array_equal(np.asarray(pic), RGB)


def test_a_jpeg_path_keeps_its_bytes_and_format(root, tmp_path):
    path = tmp_path / "photo.jpg"
    PILImage.fromarray(RGB).save(path, quality=90)
    ref, pic = logged(root, runlake.Image(path))
    assert ref["format"] == "jpg" and ref["path"].endswith(".jpg")
    assert ref["size"] == path.stat().st_size and pic.format == "JPEG"


def test_file_type_jpg_and_mode_conversion(root):
    ref, pic = logged(root, runlake.Image(RGB, file_type="jpg"))
    assert ref["path"].endswith(".jpg") and pic.format == "JPEG"
    ref, pic = logged(root, runlake.Image(RGB, mode="L"))
    assert pic.mode == "L" and ref["mode"] == "L"
    assert np.array_equal(np.asarray(pic), np.asarray(PILImage.fromarray(RGB).convert("L")))


def test_a_torch_chw_tensor(root):
    torch = pytest.importorskip("torch")
    tensor = torch.from_numpy(np.moveaxis(RGB, -1, 0).copy()).float() / 255
    _, pic = logged(root, runlake.Image(tensor))
    assert np.array_equal(np.asarray(pic), RGB)
    gray = torch.from_numpy(RGB[..., 0].copy())
    _, pic = logged(root, runlake.Image(gray))
    assert np.array_equal(np.asarray(pic), RGB[..., 0])


@pytest.mark.parametrize("data, match", [
    (np.zeros((2, 3, 5)), r"shape \(2, 3, 5\)"),
    (np.zeros((2, 2, 2, 3)), "shape"),
    (np.zeros(5), "shape"),
    (np.zeros((0, 4)), "shape"),
    (np.array([[0.1, np.nan]]), "NaN"),
    (np.array([["a", "b"]]), "must be numbers"),
])
def test_bad_pixels_are_refused_clearly(data, match):
    with pytest.raises(runlake.InvalidValueError, match=match):
        runlake.Image(data)


def test_unknown_modes_file_types_and_paths_are_refused(tmp_path):
    with pytest.raises(runlake.InvalidValueError, match="'XYZ' is not a PIL mode"):
        runlake.Image(RGB, mode="XYZ")
    with pytest.raises(runlake.InvalidValueError, match="file_type 'tiff'"):
        runlake.Image(RGB, file_type="tiff")
    with pytest.raises(FileNotFoundError, match="no file at"):
        runlake.Image(str(tmp_path / "missing.png"))
    (tmp_path / "not.png").write_text("text")
    with pytest.raises(runlake.InvalidValueError, match="not an image"):
        runlake.Image(str(tmp_path / "not.png"))


def test_boxes_masks_and_classes_are_stored_and_unnest_in_duckdb(root):
    import duckdb

    mask = np.zeros((6, 9), dtype=np.int64)
    mask[2:4, 3:7] = 2
    image = runlake.Image(
        RGB,
        boxes={"predictions": {
            "box_data": [
                {"position": {"minX": 0.1, "maxX": 0.4, "minY": 0.2, "maxY": 0.6}, "class_id": 1,
                 "box_caption": "cat", "scores": {"acc": 0.9}},
                {"position": {"middle": [4, 3], "width": 2, "height": 4}, "domain": "pixel",
                 "class_id": 2},
            ],
            "class_labels": {1: "cat", 2: "dog"},
        }},
        masks={"ground_truth": {"mask_data": mask, "class_labels": {0: "bg", 2: "dog"}}},
        classes=[{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    )
    with runlake.init(settings={"root": root}) as run:
        run.log({"img": image})
    ref = rows(root, run.id)[0]["img"]
    [group] = ref["boxes"]
    assert group["group"] == "predictions"
    assert group["class_labels"] == [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
    first, second = group["box_data"]
    assert (first["minX"], first["maxY"], first["box_caption"], first["scores"]) == (
        0.1, 0.6, "cat", [{"name": "acc", "value": 0.9}])
    assert (second["minX"], second["maxX"], second["minY"], second["maxY"], second["domain"]) == (
        3.0, 5.0, 1.0, 5.0, "pixel")
    [m] = ref["masks"]
    assert m["group"] == "ground_truth" and m["path"].startswith("media/images/mask/")
    with PILImage.open(Path(run.dir) / m["path"]) as stored:
        assert np.array_equal(np.asarray(stored), mask.astype(np.uint8))
    assert ref["classes"] == [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
    glob = str(root / "history" / "**" / "*.parquet")
    got = duckdb.sql(
        f"SELECT b.class_id, b.minX FROM (SELECT unnest(g.box_data) AS b FROM "
        f"(SELECT unnest(img.boxes) AS g FROM read_parquet('{glob}')))").fetchall()
    assert got == [(1, 0.1), (2, 3.0)]


@pytest.mark.parametrize("kwargs, match", [
    ({"boxes": {"p": {"box_data": [{"position": {"minX": 0}, "class_id": 1}]}}}, "position needs"),
    ({"boxes": {"p": {"box_data": [{"position": {"minX": 1, "maxX": 0, "minY": 0, "maxY": 1},
                                    "class_id": 1}]}}}, "min is greater"),
    ({"boxes": {"p": {"box_data": [{"position": {"minX": 0, "maxX": 1, "minY": 0, "maxY": 1}}]}}},
     "class_id"),
    ({"boxes": {"p": {"box_data": [{"position": {"minX": 0, "maxX": float("nan"), "minY": 0,
                                                 "maxY": 1}, "class_id": 1}]}}}, "finite"),
    ({"boxes": [1, 2]}, "dict of group name"),
    ({"masks": {"m": {"mask_data": np.zeros((2, 2), dtype=int)}}}, "the image 9x6"),
    ({"masks": {"m": {"mask_data": np.zeros((6, 9))}}}, "class ids"),
    ({"masks": {"m": {"mask_data": np.full((6, 9), 300)}}}, "0..255"),
    ({"masks": {"m": {}}}, "mask_data"),
    ({"classes": [{"name": "x"}]}, "classes"),
    ({"boxes": {"p": {"box_data": [], "class_labels": {"a": "b"}}}}, "keys must be ints"),
])
def test_bad_annotations_are_refused_clearly(kwargs, match):
    with pytest.raises(runlake.InvalidValueError, match=match):
        runlake.Image(RGB, **kwargs)


def test_a_missing_media_extra_names_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "PIL", None)  # as if Pillow were not installed
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    with pytest.raises(runlake.MissingExtraError, match=r"runlake\[media\]"):
        runlake.Image(RGB)
    assert isinstance(runlake.MissingExtraError("x"), ImportError)
    runlake.Histogram([1, 2, 3])  # numpy only


def test_image_exposes_the_pil_image_and_its_format(tmp_path):
    from PIL import Image as PILImage

    img = runlake.Image(RGB)
    assert isinstance(img.image, PILImage.Image) and img.image.size == (img.width, img.height)
    assert img.format == "png"
    assert runlake.Image(RGB, file_type="jpeg").format == "jpg"
    path = tmp_path / "x.jpg"
    PILImage.fromarray(RGB).save(path)
    assert runlake.Image(str(path)).format == "jpg"
