"""Modes: offline, disabled, dryrun, a bad mode; what a disabled run still answers."""

import wandb
from _observe import attempt, call, done, emit

for mode in ("offline", "dryrun", "disabled"):
    run = call(f"{mode}.init", lambda: wandb.init(project="conf", mode=mode),
               show=lambda r: r is not None)
    if run is None:
        continue
    emit(f"{mode}.offline", run.offline)
    emit(f"{mode}.disabled", run.disabled)
    call(f"{mode}.settings_mode", lambda: run.settings.mode)
    emit(f"{mode}.is_active", wandb.run is run)
    emit(f"{mode}.id_type", type(run.id).__name__)
    with attempt(f"{mode}.log"):
        run.log({"x": 1})
        run.log({"x": 2}, step=5)
    call(f"{mode}.step", lambda: run.step)
    call(f"{mode}.summary_x", lambda: run.summary.get("x"))
    with attempt(f"{mode}.config_update"):
        run.config.update({"a": 1})
    call(f"{mode}.config", lambda: dict(run.config))
    call(f"{mode}.define_metric", lambda: run.define_metric("x", summary="max"),
         show=lambda m: type(m).__name__)
    call(f"{mode}.log_artifact", lambda: run.log_artifact(wandb.Artifact("a", "t")),
         show=lambda a: a is not None)
    with attempt(f"{mode}.finish"):
        run.finish()
    emit(f"{mode}.after_finish_is_none", wandb.run is None)

call("bad_mode", lambda: wandb.init(project="conf", mode="sideways"),
     show=lambda r: type(r).__name__)
if wandb.run is not None:
    wandb.finish()
with attempt("settings_mode_disabled"):
    run = wandb.init(project="conf", settings=wandb.Settings(mode="disabled"))
    emit("settings_mode_disabled.disabled", run.disabled)
    run.finish()
done()
