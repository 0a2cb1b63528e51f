"""The Run's other methods offline: save, log_code, status, to_html, display, alert, restore."""

import os

import wandb
from _observe import call, done, emit

with open("notes.txt", "w") as f:
    f.write("notes")
os.makedirs("pkg", exist_ok=True)
with open("pkg/code.py", "w") as f:
    f.write("x = 1\n")

run = wandb.init(project="conf")
call("save.file", lambda: bool(run.save("notes.txt")))
call("save.policy_now", lambda: bool(run.save("notes.txt", policy="now")))
call("save.bad_policy", lambda: run.save("notes.txt", policy="sometimes"))
call("save.glob_nothing", lambda: bool(run.save("no_match_*.bin")))
call("save.file_in_run_dir", lambda: os.path.exists(os.path.join(run.dir, "notes.txt")))
call("log_code", lambda: run.log_code("pkg"), show=lambda a: a is not None)
call("status.type", lambda: run.status(), show=lambda s: type(s).__name__)
call("to_html.is_str", lambda: isinstance(run.to_html(), str))
call("display.outside_notebook", lambda: run.display())
call("mark_preempting", run.mark_preempting)
call("alert", lambda: run.alert(title="t", text="x"))
call("alert.level", lambda: run.alert(title="t", text="x", level=wandb.AlertLevel.WARN))
call("restore.missing", lambda: run.restore("never_saved.txt"))
call("settings.project", lambda: run.settings.project)
call("project_matches", lambda: run.project == run.settings.project)
run.finish()
call("after_finish.save", lambda: run.save("notes.txt"))
call("after_finish.alert", lambda: run.alert(title="t", text="x"))
emit("ran_through", True)
done()
