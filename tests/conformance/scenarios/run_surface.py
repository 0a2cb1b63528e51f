"""The Run's public surface: which names it has, and the parameters of its main callables."""

import wandb
from _observe import done, emit, params

# wandb 0.31's public Run names, and those wandb's Run reference lists that 0.31 dropped.
CURRENT = (
    "alert", "config", "config_static", "define_metric", "dir", "disabled", "display",
    "entity", "finish", "finish_artifact", "group", "id", "job_type", "link_artifact",
    "link_model", "log", "log_artifact", "log_code", "log_model", "mark_preempting", "name",
    "notes", "offline", "path", "pin_config_keys", "project", "project_url", "restore",
    "resumed", "save", "settings", "start_time", "starting_step", "status", "step", "summary",
    "sweep_id", "sweep_url", "sync_dir", "tags", "to_html", "unwatch", "upsert_artifact", "url",
    "use_artifact", "use_model", "watch",
)
DROPPED = ("get_url", "get_project_url", "get_sweep_url", "project_name", "join", "detach",
           "plot_table")

run = wandb.init(project="conf")
emit("has.current", {n: hasattr(run, n) for n in CURRENT})
emit("has.dropped", {n: hasattr(run, n) for n in DROPPED})
for name in ("log", "define_metric", "finish", "log_artifact", "use_artifact", "save",
             "restore", "alert", "watch", "log_code", "log_model", "use_model", "link_model",
             "upsert_artifact", "finish_artifact", "link_artifact", "to_html", "status",
             "mark_preempting", "unwatch"):
    fn = getattr(run, name, None)
    emit(f"params.Run.{name}", None if fn is None else params(fn))
for name in ("init", "log", "finish", "define_metric", "save", "restore", "watch", "unwatch",
             "alert", "login"):
    fn = getattr(wandb, name, None)
    emit(f"params.wandb.{name}", None if fn is None else params(fn))
for name in ("Image", "Histogram", "Table", "Artifact"):
    emit(f"params.{name}", params(getattr(wandb, name)))
emit("params.Table.add_data", params(wandb.Table.add_data))
emit("params.Artifact.add_file", params(wandb.Artifact.add_file))
emit("params.Artifact.add_dir", params(wandb.Artifact.add_dir))
emit("params.Artifact.new_file", params(wandb.Artifact.new_file))
emit("params.Config.update", params(run.config.update))
run.finish()
done()
