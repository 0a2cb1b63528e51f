"""init() while a run is active: the default and each reinit= value."""

import wandb
from _observe import call, done, emit

first = wandb.init(project="conf")
second = call("default", lambda: wandb.init(project="conf"), show=lambda r: type(r).__name__)
emit("default.same_run", second is first)
emit("default.active_is_second", wandb.run is second)
emit("default.first_finished_log", call("default.first_log", lambda: first.log({"a": 1})) is None)
if wandb.run is not None:
    wandb.run.finish()
first.finish()

first = wandb.init(project="conf")
second = call("finish_previous", lambda: wandb.init(project="conf", reinit="finish_previous"),
              show=lambda r: type(r).__name__)
emit("finish_previous.new_run", second is not first and second is not None)
emit("finish_previous.active", wandb.run is second)
call("finish_previous.first_log", lambda: first.log({"a": 1}))
if second is not None:
    second.finish()

first = wandb.init(project="conf")
again = call("return_previous", lambda: wandb.init(project="conf", reinit="return_previous"),
             show=lambda r: type(r).__name__)
emit("return_previous.same_run", again is first)
first.finish()

first = wandb.init(project="conf")
second = call("true", lambda: wandb.init(project="conf", reinit=True),
              show=lambda r: type(r).__name__)
emit("true.new_run", second is not first and second is not None)
call("true.first_log", lambda: first.log({"a": 1}))
if wandb.run is not None:
    wandb.run.finish()
first.finish()

first = wandb.init(project="conf")
second = call("create_new", lambda: wandb.init(project="conf", reinit="create_new"),
              show=lambda r: type(r).__name__)
if second is not None:
    emit("create_new.both_live", [call("create_new.first_log", lambda: first.log({"a": 1})),
                                  call("create_new.second_log", lambda: second.log({"a": 1}))])
    emit("create_new.active_is_first", wandb.run is first)
    second.finish()
first.finish()
call("bad_value", lambda: wandb.init(project="conf", reinit="sometimes"),
     show=lambda r: type(r).__name__)
if wandb.run is not None:
    wandb.run.finish()
done()
