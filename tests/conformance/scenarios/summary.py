"""run.summary: automatic last values, update, nested, attribute access, after finish."""

import wandb
from _observe import attempt, call, done, emit


def visible(summary):
    return {k: v for k, v in dict(summary).items() if not k.startswith("_")}


run = wandb.init(project="conf")
emit("empty", visible(run.summary))
run.log({"loss": 1.0, "acc": 0.5})
run.log({"loss": 0.25})
emit("auto.last_values", visible(run.summary))
call("auto._step", lambda: run.summary["_step"])
emit("auto.underscore_keys", sorted(k for k in dict(run.summary) if k.startswith("_")))
call("attr.read", lambda: run.summary.loss)
call("item.read", lambda: run.summary["acc"])
call("get.absent", lambda: run.summary.get("absent", "dflt"))
call("keys.contains", lambda: ["loss" in run.summary.keys(), "absent" in run.summary.keys()])
call("contains.operator", lambda: ["loss" in run.summary, "absent" in run.summary])

run.summary["best"] = 0.1
call("set.item", lambda: run.summary["best"])
with attempt("set.attr"):
    run.summary.best_acc = 0.9
call("set.attr.read", lambda: visible(run.summary).get("best_acc"))
run.summary.update({"final": 7, "nested": {"a": {"b": 1}}})
emit("update", {k: v for k, v in visible(run.summary).items() if k != "best_acc"})
call("nested.item", lambda: run.summary["nested"]["a"]["b"])
call("nested.is_dict_like", lambda: hasattr(run.summary["nested"], "keys"))
with attempt("nested.set_inside"):
    run.summary["nested"]["a"]["c"] = 2
call("nested.after_set_inside", lambda: visible(run.summary)["nested"])

run.summary["loss"] = 0.01
run.log({"acc": 0.75})
call("explicit_then_log", lambda: {"loss": run.summary["loss"], "acc": run.summary["acc"]})

with attempt("delete.item"):
    del run.summary["final"]
emit("delete.after", "final" in run.summary.keys())
with attempt("delete.absent"):
    del run.summary["never_there"]

call("attr.absent", lambda: run.summary.absent_key)
call("item.absent", lambda: run.summary["absent_key"])

run.log({"dict_metric": {"p": 1, "q": 2}})
call("logged_dict", lambda: visible(run.summary).get("dict_metric"))
call("logged_dict.flat_key", lambda: visible(run.summary).get("dict_metric.p"))

run.finish()
call("after_finish.visible", lambda: visible(run.summary))
with attempt("after_finish.set"):
    run.summary["late"] = 1
done()
