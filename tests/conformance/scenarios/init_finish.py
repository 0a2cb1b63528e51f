"""init() and finish(): the Run's attributes, wandb.run, the context manager, finishing twice."""

import os

import wandb
from _observe import call, done, emit

emit("before.run_is_none", wandb.run is None)
run = wandb.init(project="conf", name="first", config={"a": 1}, tags=["t1", "t2"], notes="n",
                 group="g", job_type="train")
emit("init.type", type(run).__name__)
emit("init.is_wandb_Run", isinstance(run, wandb.Run))
emit("init.is_active", wandb.run is run)
emit("run.id", run.id)
emit("run.id_type", type(run.id).__name__)
emit("run.id_length", len(run.id))
emit("run.name", run.name)
emit("run.project", run.project)
emit("run.tags", list(run.tags))
emit("run.notes", run.notes)
emit("run.group", run.group)
emit("run.job_type", run.job_type)
emit("run.offline", run.offline)
emit("run.disabled", run.disabled)
emit("run.resumed", run.resumed)
emit("run.step", run.step)
emit("run.starting_step", run.starting_step)
emit("run.sweep_id", run.sweep_id)
emit("run.start_time_type", type(run.start_time).__name__)
emit("run.url", run.url)
emit("run.dir_is_folder", os.path.isdir(run.dir))
emit("run.dir_under_WANDB_DIR", os.path.realpath(run.dir).startswith(
    os.path.realpath(os.environ["WANDB_DIR"])))
emit("run.path_ends_with_id", run.path.endswith(run.id))
emit("run.path_parts", len(run.path.split("/")))
emit("run.config", dict(run.config))
run.finish()
emit("finish.run_is_none", wandb.run is None)
call("finish.again", run.finish)
emit("finish.id_still_readable", run.id == run.id)

with wandb.init(project="conf") as second:
    emit("with.is_active", wandb.run is second)
    emit("with.enter_returns_run", isinstance(second, wandb.Run))
emit("with.after_is_none", wandb.run is None)

try:
    with wandb.init(project="conf"):
        raise ValueError("boom")
except ValueError as e:
    emit("with_error.propagates", type(e).__name__)
emit("with_error.after_is_none", wandb.run is None)

wandb.init(project="conf")
wandb.finish()
emit("module_finish.run_is_none", wandb.run is None)
call("module_finish.without_run", wandb.finish)

given = wandb.init(project="conf", id="given123")
emit("given.id", given.id)
emit("given.name_type", type(given.name).__name__)
given.finish(exit_code=0)
emit("exit_code.run_is_none", wandb.run is None)
done()
