"""run.config: update, allow_val_change, nested values, setdefault, attribute access, odd values."""

import argparse

import wandb
from _observe import attempt, call, done, emit

run = wandb.init(project="conf", config={"lr": 0.1, "nested": {"depth": 2, "inner": {"x": 1}}})
config = run.config
emit("init.dict", dict(config))
emit("init.module_is_run_config", wandb.config is run.config or dict(wandb.config) == dict(config))
emit("attr.read", config.lr)
emit("item.read", config["lr"])
emit("nested.attr_read_type", type(config.nested).__name__)
emit("nested.read", config.nested["inner"]["x"])
emit("get.present", config.get("lr"))
emit("get.absent_default", config.get("absent", "dflt"))
emit("contains", ["lr" in config, "absent" in config])
emit("keys", sorted(config.keys()))
emit("items", sorted([k, v] for k, v in config.items()))

config.update({"batch": 32, "epochs": 3})
emit("update.dict", dict(config))
config.epochs = 4 if False else config.epochs  # same value: always allowed
with attempt("update.same_value"):
    config.update({"batch": 32})
with attempt("update.change_value"):
    config.update({"batch": 64})
emit("update.after_refused", config.batch)
with attempt("update.allow_val_change"):
    config.update({"batch": 64}, allow_val_change=True)
emit("update.after_allowed", config.batch)
with attempt("attr.set_new"):
    config.optimizer = "adam"
emit("attr.set_new_value", config["optimizer"])
with attempt("attr.change"):
    config.optimizer = "sgd"
with attempt("item.change"):
    config["optimizer"] = "sgd"
emit("change.after", config.optimizer)

call("setdefault.absent", lambda: config.setdefaults({"momentum": 0.9}))
emit("setdefault.absent_value", config.get("momentum"))
call("setdefault.present", lambda: config.setdefaults({"momentum": 0.5}))
emit("setdefault.present_value", config.get("momentum"))

call("attr.absent", lambda: config.absent_key)
call("item.absent", lambda: config["absent_key"])

config.update({"none": None, "tuple": (1, 2), "list": [1, [2, 3]], "bool": True,
               "big": 2 ** 40, "neg": -1.5, "text": "ü", "empty": {}})
emit("odd.values", {k: config[k] for k in
                    ("none", "tuple", "list", "bool", "big", "neg", "text", "empty")})

namespace = argparse.Namespace(alpha=1, beta="b")
config.update(namespace)
emit("namespace.update", [config.alpha, config.beta])

with attempt("update.nested_change"):
    config.update({"nested": {"depth": 3}})
emit("nested.after_change_attempt", config["nested"])

with attempt("delete.item"):
    del config["text"]
emit("delete.after", "text" in config)

run.finish()
call("after_finish.read", lambda: config.lr)

second = wandb.init(project="conf", config={"a": 1, "b": 2, "c": 3}, config_exclude_keys=["b"])
emit("exclude_keys", dict(second.config))
second.finish()
third = wandb.init(project="conf", config={"a": 1, "b": 2}, config_include_keys=["a"])
emit("include_keys", dict(third.config))
third.finish()
fourth = wandb.init(project="conf", config=argparse.Namespace(k=1))
emit("init_namespace", dict(fourth.config))
fourth.finish()
done()
