"""What log() keeps in the summary for each kind of value: numbers, numpy, text, lists, None."""

import math

import numpy as np

import wandb
from _observe import attempt, call, done

VALUES = {
    "int": 3,
    "float": 0.5,
    "bool": True,
    "str": "text",
    "none": None,
    "np_float32": np.float32(0.25),
    "np_int64": np.int64(7),
    "np_bool": np.bool_(False),
    "list": [1, 2, 3],
    "list_mixed": [1, "a", None],
    "np_array": np.arange(3),
    "np_array_float": np.array([0.5, 1.5]),
    "np_0d": np.array(4.0),
    "nan": float("nan"),
    "inf": float("inf"),
    "big_int": 2 ** 53 + 1,
    "negative_zero": -0.0,
    "unicode": "ü→✓",
    "empty_list": [],
    "nested": {"deep": {"value": 1}},
}



def kind(value):
    """A summary value's type: dict-like values are "dict" whatever each library calls them."""
    return "dict" if hasattr(value, "keys") else type(value).__name__


run = wandb.init(project="conf")
for key, value in VALUES.items():
    with attempt(f"log.{key}"):
        run.log({key: value})
    call(f"summary.{key}", lambda: dict(run.summary).get(key, "$absent"))
    call(f"summary_type.{key}", lambda: kind(dict(run.summary).get(key)))
with attempt("log.many_keys"):
    run.log({f"k{i}": i for i in range(200)})
call("summary.many_keys", lambda: sum(1 for k in dict(run.summary) if k.startswith("k")))
with attempt("log.slash_and_dot_keys"):
    run.log({"train/loss": 1, "a.b": 2, "with space": 3})
call("summary.slash_and_dot_keys",
     lambda: {k: dict(run.summary).get(k) for k in ("train/loss", "a.b", "with space")})
call("summary.nan_is_nan", lambda: math.isnan(dict(run.summary)["nan"]))
run.finish()
done()
