"""The step rules: step=, commit=False, steps that go back, run.step and _step."""

import wandb
from _observe import done, emit


def emit_point(name, run):
    """run.step and the user's summary values; the summary's _step apart, so that each is
    compared on its own."""
    s = dict(run.summary)
    emit(name, {"step": run.step, "values": {k: v for k, v in s.items() if not k.startswith("_")}})
    emit(name + "._step", s.get("_step"))


run = wandb.init(project="conf")
emit_point("start", run)
run.log({"a": 1})
emit_point("implicit.one", run)
run.log({"a": 2})
emit_point("implicit.two", run)
run.log({"b": 1}, commit=False)
emit_point("commit_false.pending", run)
run.log({"c": 1}, commit=False)
run.log({"a": 3})
emit_point("commit_false.committed", run)
run.log({"a": 4}, step=10)
emit_point("explicit.ahead", run)
run.log({"b": 5}, step=10)
emit_point("explicit.same_step", run)
# Dropped with a warning (wandb prints it from its service, at no fixed moment: not observed).
run.log({"a": 99}, step=3)
emit_point("backwards.after", run)
run.log({"a": 6}, step=11)
emit_point("explicit.next", run)
run.log({"a": 7})
emit_point("implicit.after_explicit", run)
run.log({"a": 8}, step=run.step, commit=True)
emit_point("explicit.commit_true", run)
run.log({"e": 1}, step=20, commit=False)
emit_point("explicit.commit_false", run)
run.log({})
emit_point("empty.dict", run)
run.finish()
done()
