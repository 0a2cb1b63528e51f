"""Media: Image from numpy, Histogram, Table; their attributes and how the summary holds them."""

import numpy as np

import wandb
from _observe import attempt, call, done


def shape(value):
    """A summary value's keys and the types of their values: the shape, not the file names."""
    if hasattr(value, "keys"):
        return {k: type(value[k]).__name__ for k in value.keys()}
    return type(value).__name__


run = wandb.init(project="conf")
pixels = (np.arange(4 * 6 * 3) % 256).astype(np.uint8).reshape(4, 6, 3)
image = wandb.Image(pixels, caption="cap")
call("image.caption", lambda: image._caption if hasattr(image, "_caption") else image.caption)
call("image.pil_size", lambda: list(image.image.size))
call("image.pil_mode", lambda: image.image.mode)
gray = wandb.Image(np.zeros((5, 7), dtype=np.float32))
call("image.gray_size", lambda: list(gray.image.size))
run.log({"img": image})
call("image.summary_type", lambda: run.summary["img"]["_type"])
call("image.summary_size", lambda: [run.summary["img"]["width"], run.summary["img"]["height"]])
call("image.summary_format", lambda: run.summary["img"]["format"])
call("image.summary_shape", lambda: shape(run.summary["img"]))
from PIL import Image as PILImage  # noqa: E402 - a scenario reads top to bottom

pil = PILImage.new("L", (3, 2), color=128)
from_pil = wandb.Image(pil)
call("image.from_pil_size", lambda: list(from_pil.image.size))
pil.convert("RGB").save("pic.png")
from_path = wandb.Image("pic.png", caption="from a file")
call("image.from_path_size", lambda: list(from_path.image.size))
run.log({"img_pil": from_pil, "img_path": from_path})
call("image.from_pil_summary", lambda: [run.summary["img_pil"]["width"],
                                        run.summary["img_pil"]["height"],
                                        run.summary["img_pil"]["format"]])
call("image.from_path_summary", lambda: [run.summary["img_path"]["width"],
                                         run.summary["img_path"]["format"],
                                         run.summary["img_path"]["caption"]])
run.log({"imgs": [wandb.Image(pixels), wandb.Image(pixels)]})
call("image.list_summary_type", lambda: run.summary["imgs"]["_type"])
call("image.list_summary_count", lambda: run.summary["imgs"]["count"])
with attempt("image.bad_shape"):
    wandb.Image(np.zeros((2, 2, 2, 2, 2)))

hist = wandb.Histogram([1, 2, 2, 3, 3, 3], num_bins=3)
call("hist.histogram", lambda: [int(v) for v in hist.histogram])
call("hist.bins", lambda: [round(float(v), 6) for v in hist.bins])
counts, edges = np.histogram([0.0, 0.5, 1.0], bins=2)
from_np = wandb.Histogram(np_histogram=(counts, edges))
call("hist.np_histogram", lambda: [[int(v) for v in from_np.histogram],
                                   [float(v) for v in from_np.bins]])
run.log({"hist": hist})
call("hist.summary_type", lambda: run.summary["hist"]["_type"])
call("hist.summary", lambda: dict(run.summary["hist"]))
with attempt("hist.too_many_bins"):
    wandb.Histogram([1, 2], num_bins=10000)

table = wandb.Table(columns=["a", "b"])
table.add_data(1, "x")
table.add_data(2, "y")
call("table.columns", lambda: list(table.columns))
call("table.data", lambda: [list(r) for r in table.data])
call("table.get_column", lambda: list(table.get_column("a")))
with attempt("table.add_data_wrong_count"):
    table.add_data(1)
from_data = wandb.Table(data=[[1, 2.5], [3, 4.5]], columns=["i", "f"])
call("table.from_data", lambda: [list(r) for r in from_data.data])
call("table.add_column", lambda: from_data.add_column("s", ["p", "q"]))
call("table.after_add_column", lambda: list(from_data.columns))
run.log({"tbl": table})
call("table.summary_type", lambda: run.summary["tbl"]["_type"])
call("table.summary_counts", lambda: [run.summary["tbl"]["nrows"], run.summary["tbl"]["ncols"]])
call("table.summary_shape", lambda: shape(run.summary["tbl"]))
run.finish()
done()
