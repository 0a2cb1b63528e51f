"""Misuse: calls before init, bad keys and values, calls after finish."""

import wandb
from _observe import attempt, call, done

with attempt("before_init.log"):
    wandb.log({"a": 1})
with attempt("before_init.config_item"):
    wandb.config["a"] = 1
call("before_init.config_read", lambda: wandb.config["a"])
with attempt("before_init.summary_item"):
    wandb.summary["a"] = 1
with attempt("before_init.define_metric"):
    wandb.define_metric("a")
with attempt("before_init.save"):
    wandb.save("x.txt")
with attempt("before_init.finish"):
    wandb.finish()

run = wandb.init(project="conf")
with attempt("log.int_key"):
    run.log({1: 2})
with attempt("log.tuple_key"):
    run.log({("a", "b"): 1})
with attempt("log.not_a_dict"):
    run.log([1, 2])
with attempt("log.none"):
    run.log(None)
with attempt("log.negative_step"):
    run.log({"a": 1}, step=-1)
with attempt("log.str_step"):
    run.log({"a": 1}, step="3")
with attempt("log.float_step"):
    run.log({"a": 1}, step=1.5)
with attempt("log.object_value"):
    run.log({"obj": object()})
with attempt("config.bad_key_type"):
    run.config.update({1: "x"})
with attempt("config.not_a_dict"):
    run.config.update([1, 2])
with attempt("image.bad_input"):
    wandb.Image("no/such/file.png")
with attempt("histogram.bad_input"):
    wandb.Histogram("abc")
with attempt("table.bad_columns"):
    wandb.Table(columns=["a"], data=[[1, 2]])
with attempt("artifact.missing_type"):
    wandb.Artifact("a", type=None)
run.finish()

with attempt("after_finish.log"):
    run.log({"a": 1})
with attempt("after_finish.module_log"):
    wandb.log({"a": 1})
with attempt("after_finish.config_update"):
    run.config.update({"late": 1})
with attempt("after_finish.summary_set"):
    run.summary["late"] = 1
with attempt("after_finish.define_metric"):
    run.define_metric("late")
with attempt("after_finish.save"):
    run.save("x.txt")
with attempt("after_finish.finish_again"):
    run.finish()
done()
