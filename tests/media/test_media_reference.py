"""The log() examples of wandb's Run reference that log media, verbatim (`import wandb` is
`import runlake as wandb`; the store is ./runlake in the test's working directory). The
PR-curve example belongs to runlake.plot's tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import runlake
from tests.helpers import rows

STORE = Path("runlake-store")  # the default root, in the test's working directory


def _files(run) -> Path:
    return Path(run.dir)


def test_histogram():
    import numpy as np
    import runlake as wandb

    # Sample gradients at random from a normal distribution
    gradients = np.random.randn(100, 100)
    run = wandb.init()
    run.log({"gradients": wandb.Histogram(gradients)})

    run.finish()
    ref = rows(STORE)[0]["gradients"]
    assert ref["_type"] == "histogram" and len(ref["values"]) == 64
    assert sum(ref["values"]) == 10_000


def test_image_from_numpy():
    import numpy as np
    import runlake as wandb

    run = wandb.init()
    examples = []
    for i in range(3):
        pixels = np.random.randint(low=0, high=256, size=(100, 100, 3))
        image = wandb.Image(pixels, caption=f"random field {i}")
        examples.append(image)
    run.log({"examples": examples})

    run.finish()
    entry = rows(STORE)[0]["examples"]
    assert entry["_type"] == "images/separated" and entry["count"] == 3
    assert [i["caption"] for i in entry["items"]] == [f"random field {i}" for i in range(3)]
    assert all((i["width"], i["height"]) == (100, 100) for i in entry["items"])
    assert all((_files(run) / i["path"]).is_file() for i in entry["items"])


def test_image_from_pil():
    import numpy as np
    from PIL import Image as PILImage
    import runlake as wandb

    run = wandb.init()
    examples = []
    for i in range(3):
        pixels = np.random.randint(low=0, high=256, size=(100, 100, 3), dtype=np.uint8)
        pil_image = PILImage.fromarray(pixels, mode="RGB")
        image = wandb.Image(pil_image, caption=f"random field {i}")
        examples.append(image)
    run.log({"examples": examples})

    run.finish()
    items = rows(STORE)[0]["examples"]["items"]
    with PILImage.open(_files(run) / items[2]["path"]) as stored:
        assert np.array_equal(np.asarray(stored), pixels)  # the last one, pixel for pixel


def test_video_from_numpy():
    import numpy as np
    import runlake as wandb

    run = wandb.init()
    # axes are (time, channel, height, width)
    frames = np.random.randint(low=0, high=256, size=(10, 3, 100, 100), dtype=np.uint8)
    run.log({"video": wandb.Video(frames, fps=4)})

    run.finish()
    ref = rows(STORE)[0]["video"]
    assert (ref["format"], ref["frames"], ref["fps"], ref["width"]) == ("gif", 10, 4, 100)
    from PIL import Image as PILImage

    with PILImage.open(_files(run) / ref["path"]) as gif:
        assert gif.n_frames == 10


def test_matplotlib():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    import numpy as np
    import runlake as wandb

    run = wandb.init()
    fig, ax = plt.subplots()
    x = np.linspace(0, 10)
    y = x * x
    ax.plot(x, y)  # plot y = x^2
    run.log({"chart": fig})

    run.finish()
    plt.close(fig)
    ref = rows(STORE)[0]["chart"]
    assert ref["_type"] == "image-file" and (_files(run) / ref["path"]).is_file()


def test_3d_objects(tmp_path):
    Path("sample.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    Path("sample.gltf").write_text(json.dumps({"asset": {"version": "2.0"}}))
    Path("sample.glb").write_bytes(b"glTF\x02\x00\x00\x00\xff\xfe\x00")
    import runlake as wandb

    run = wandb.init()
    run.log(
        {
            "generated_samples": [
                wandb.Object3D(open("sample.obj")),
                wandb.Object3D(open("sample.gltf")),
                wandb.Object3D(open("sample.glb")),
            ]
        }
    )

    run.finish()
    entry = rows(STORE)[0]["generated_samples"]
    assert [i["format"] for i in entry["items"]] == ["obj", "gltf", "glb"]
    assert (_files(run) / entry["items"][2]["path"]).read_bytes() == Path("sample.glb").read_bytes()


def test_the_readme_media_examples():
    import numpy as np
    import runlake as wandb

    points_xyz_rgb = np.hstack([np.random.rand(20, 3), np.random.randint(0, 256, (20, 3))])
    Path("sample.obj").write_text("v 0 0 0\n")
    run = wandb.init(project="vision")
    run.log({"gradients": wandb.Histogram(np.random.randn(100, 100))})
    run.log({"examples": [wandb.Image(np.random.randint(0, 256, (100, 100, 3)), caption=f"field {i}") for i in range(3)]})
    run.log({"video": wandb.Video(np.random.randint(0, 256, (10, 3, 100, 100), dtype=np.uint8), fps=4)})
    run.log({"samples": [wandb.Object3D(open("sample.obj")), wandb.Object3D(points_xyz_rgb)]})
    run.finish()
    got = rows(STORE)
    assert [sorted(k for k in r if k != "_step") for r in got] == [
        ["gradients"], ["examples"], ["video"], ["samples"]]
    assert got[3]["samples"]["items"][1]["points"] == 20
    assert isinstance(runlake.Api().run(f"vision/{run.id}").summary["video"], dict)
