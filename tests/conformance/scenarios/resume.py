"""Resuming a run by id: resume="allow", "must", "never", True; the step and summary continue."""

import wandb
from _observe import call, done, emit

first = wandb.init(project="conf", id="resumeme1")
first.log({"a": 1})
first.log({"a": 2})
first.config.update({"lr": 0.1})
first.finish()

for how in ("allow", "must", True):
    run = call(f"{how}.init", lambda: wandb.init(project="conf", id="resumeme1", resume=how),
               show=lambda r: type(r).__name__)
    if run is None:
        continue
    emit(f"{how}.id", run.id)
    emit(f"{how}.resumed", run.resumed)
    call(f"{how}.starting_step", lambda: run.starting_step)
    call(f"{how}.step", lambda: run.step)
    call(f"{how}.config", lambda: dict(run.config))
    call(f"{how}.summary_a", lambda: run.summary.get("a"))
    run.log({"a": 3})
    call(f"{how}.step_after_log", lambda: run.step)
    run.finish()

call("never.existing", lambda: wandb.init(project="conf", id="resumeme1", resume="never"),
     show=lambda r: type(r).__name__)
if wandb.run is not None:
    wandb.run.finish()
call("must.unknown", lambda: wandb.init(project="conf", id="neverseen1", resume="must"),
     show=lambda r: type(r).__name__)
if wandb.run is not None:
    wandb.run.finish()
fresh = call("allow.unknown", lambda: wandb.init(project="conf", id="neverseen2", resume="allow"),
             show=lambda r: type(r).__name__)
if fresh is not None:
    emit("allow.unknown.resumed", fresh.resumed)
    fresh.finish()
call("bad_value", lambda: wandb.init(project="conf", resume="perhaps"),
     show=lambda r: type(r).__name__)
if wandb.run is not None:
    wandb.run.finish()
done()
