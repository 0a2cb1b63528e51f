"""Module-level names: wandb.run/config/summary before and after init, login, term*, errors."""

import wandb
from _observe import attempt, call, done, emit

NAMES = (
    "Artifact", "Audio", "Error", "Histogram", "Html", "Image", "Object3D", "Plotly", "Run",
    "Settings", "Table", "Video", "AlertLevel", "alert", "config", "define_metric", "errors",
    "finish", "init", "log", "log_artifact", "log_model", "login", "plot", "plot_table",
    "restore", "run", "save", "summary", "termerror", "termlog", "termwarn", "unwatch",
    "use_artifact", "use_model", "link_model", "util", "watch", "setup", "teardown",
    "mark_preempting", "Api", "__version__", "sweep", "agent", "UsageError", "CommError",
)
emit("has", {n: hasattr(wandb, n) for n in NAMES})
emit("version_type", type(wandb.__version__).__name__)
emit("before.run", wandb.run is None)
call("before.config_repr_type", lambda: type(repr(wandb.config)).__name__)
call("before.summary_get", lambda: wandb.summary.get("x"))

import wandb.errors  # noqa: E402 - importable as a submodule, as users do

errors = {}
for name in ("Error", "UsageError", "CommError", "AuthenticationError", "UnsupportedError"):
    cls = getattr(wandb.errors, name, None)
    errors[name] = None if cls is None else {
        "is_exception": issubclass(cls, Exception),
        "is_wandb_error": issubclass(cls, wandb.errors.Error),
        "same_as_top_level": getattr(wandb, name, None) in (None, cls),
    }
emit("errors.classes", errors)
with attempt("errors.raise_catch"):
    try:
        raise wandb.errors.UsageError("x")
    except wandb.Error:
        pass

for fn in ("termlog", "termwarn", "termerror"):
    call(f"{fn}.returns", lambda: getattr(wandb, fn)("message from the scenario"))
call("login.offline", lambda: wandb.login(), show=lambda r: type(r).__name__)
call("login.anonymous_never", lambda: wandb.login(anonymous="never"),
     show=lambda r: type(r).__name__)

run = wandb.init(project="conf", config={"a": 1})
emit("after.run_is_run", wandb.run is run)
emit("after.config_same", dict(wandb.config) == dict(run.config))
wandb.config.update({"b": 2})
emit("after.config_update_reaches_run", dict(run.config))
wandb.log({"m": 1})
emit("after.module_log_reaches_summary", run.summary.get("m"))
wandb.summary["s"] = 3
call("after.module_summary_reaches_run", lambda: run.summary["s"])
wandb.finish()
emit("finished.run", wandb.run is None)
call("finished.config_get", lambda: wandb.config.get("a"))
done()
