"""Artifacts offline: add_file, add_dir, new_file, aliases, log_artifact, use_artifact."""

import os

import wandb
from _observe import attempt, call, done, emit

os.makedirs("data/sub", exist_ok=True)
for name, text in (("data/a.txt", "alpha"), ("data/sub/b.txt", "beta"), ("single.txt", "one")):
    with open(name, "w") as f:
        f.write(text)

run = wandb.init(project="conf")
art = wandb.Artifact("dataset", type="dataset", description="d", metadata={"rows": 2})
emit("new.name", art.name)
emit("new.type", art.type)
emit("new.description", art.description)
emit("new.metadata", dict(art.metadata))
call("new.version", lambda: art.version)
call("new.aliases", lambda: list(art.aliases))
call("add_file.returns", lambda: art.add_file("single.txt"), show=lambda e: e.path)
call("add_file.named", lambda: art.add_file("single.txt", name="renamed/one.txt"),
     show=lambda e: e.path)
with attempt("add_file.missing"):
    art.add_file("no_such_file.txt")
call("add_dir", lambda: art.add_dir("data"))
call("add_dir.named", lambda: art.add_dir("data", name="under"))
with attempt("new_file"):
    with art.new_file("made.txt") as f:
        f.write("made")
call("manifest.paths", lambda: sorted(art.manifest.entries))
call("manifest.sizes", lambda: {k: v.size for k, v in art.manifest.entries.items()})
call("get_entry.path", lambda: art.get_entry("single.txt").path)
with attempt("add_file.same_name_twice"):
    art.add_file("data/a.txt", name="single.txt")
with attempt("bad.name"):
    wandb.Artifact("bad/name", type="dataset")
with attempt("bad.type"):
    wandb.Artifact("ok-name", type="")

logged = call("log_artifact", lambda: run.log_artifact(art, aliases=["best", "v-one"]),
              show=lambda a: type(a).__name__)
call("logged.same_object", lambda: logged is art)
call("logged.name", lambda: logged.name)
call("logged.aliases_has_best", lambda: "best" in list(logged.aliases))
with attempt("logged.add_after"):
    art.add_file("single.txt", name="late.txt")
call("log_artifact.path", lambda: type(run.log_artifact("single.txt", name="from-path",
                                                        type="file")).__name__)
call("use_artifact.offline", lambda: run.use_artifact("dataset:latest"),
     show=lambda a: type(a).__name__)
call("use_artifact.object", lambda: run.use_artifact(wandb.Artifact("fresh", "dataset")),
     show=lambda a: type(a).__name__)
run.finish()
with attempt("after_finish.log_artifact"):
    run.log_artifact(wandb.Artifact("late", "dataset"))
done()
