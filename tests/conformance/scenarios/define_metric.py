"""define_metric: summary=, step_metric, globs, hidden, and the Metric it returns."""

import wandb
from _observe import attempt, call, done, emit


def visible(run):
    return {k: v for k, v in dict(run.summary).items() if not k.startswith("_")}


run = wandb.init(project="conf")
m = call("returns", lambda: run.define_metric("loss", summary="min"),
         show=lambda m: type(m).__name__)
call("metric.name", lambda: m.name)
call("metric.summary", lambda: m.summary)
call("metric.step_metric", lambda: m.step_metric)
run.define_metric("acc", summary="max")
run.define_metric("lr", summary="last")
run.define_metric("tokens", summary="mean")
run.define_metric("first_only", summary="first")
run.define_metric("both", summary="min,max")
run.define_metric("nothing", summary="none")
for i, (loss, acc) in enumerate([(3.0, 0.1), (1.0, 0.7), (2.0, 0.4)]):
    run.log({"loss": loss, "acc": acc, "lr": 0.1 * (i + 1), "tokens": 10 * (i + 1),
             "first_only": i, "both": [5, 1, 3][i], "nothing": i, "plain": i})
emit("summary.shapes", visible(run))

run.define_metric("epoch")
sm = run.define_metric("val/*", step_metric="epoch")
call("glob.step_metric", lambda: sm.step_metric)
run.log({"epoch": 1, "val/loss": 0.5})
run.log({"val/loss": 0.4})
emit("glob.summary", {k: v for k, v in visible(run).items() if k.startswith(("val", "epoch"))})

run.define_metric("train/*", summary="max")
run.log({"train/a": 1, "train/b": 5})
run.log({"train/a": 3, "train/b": 2})
emit("glob.summary_max", {k: v for k, v in visible(run).items() if k.startswith("train")})

run.define_metric("secret", hidden=True)
run.log({"secret": 1})
emit("hidden.in_summary", "secret" in visible(run))

with attempt("bad.summary_value"):
    run.define_metric("x", summary="median")
with attempt("bad.empty_name"):
    run.define_metric("")
with attempt("bad.glob_step_metric"):
    run.define_metric("y", step_metric="s/*")
with attempt("module_level"):
    wandb.define_metric("z", summary="min")
run.finish()
with attempt("after_finish"):
    run.define_metric("late")
done()
