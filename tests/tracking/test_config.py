"""run.config: access styles, sources, change rules, key filters, persistence in run.json."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import enum
import json
from pathlib import Path

import numpy as np
import pytest

import runlake
from tests import helpers


def run_json(run: runlake.Run) -> dict:
    return helpers.run_json(Path(run.settings.root), run.id, run.entity, run.project)


def test_dict_and_attribute_access(root):
    with runlake.init(settings={"root": root}, config={"lr": 0.1, "layers": [64, 32]}) as run:
        assert run.config["lr"] == 0.1 and run.config.lr == 0.1
        run.config.bs = 64
        run.config["opt"] = "adam"
        assert run.config["bs"] == 64 and run.config.opt == "adam"
        assert run.config.layers == [64, 32]
        assert "lr" in run.config and "nope" not in run.config
        assert set(run.config) == {"lr", "layers", "bs", "opt"}
        assert len(run.config) == 4
        assert run.config.get("nope", 7) == 7
        assert dict(run.config.items())["bs"] == 64
        with pytest.raises(KeyError):
            run.config["nope"]
        with pytest.raises(AttributeError):
            run.config.nope
        assert runlake.config is run.config
    assert run_json(run)["config"] == {"lr": 0.1, "layers": [64, 32], "bs": 64, "opt": "adam"}


def test_config_from_argparse_namespace(root):
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(["--lr", "0.5"])
    with runlake.init(settings={"root": root}, config=args) as run:
        assert run.config.lr == 0.5 and run.config.epochs == 3
        run.config.update(argparse.Namespace(seed=1))
        assert run.config.seed == 1
    assert run_json(run)["config"] == {"lr": 0.5, "epochs": 3, "seed": 1}


def test_config_from_a_json_path(root, tmp_path):
    path = tmp_path / "params.json"
    path.write_text(json.dumps({"lr": 0.2, "model": {"depth": 4}}), encoding="utf-8")
    with runlake.init(settings={"root": root}, config=str(path)) as run:
        assert run.config.lr == 0.2
        assert run.config.model == {"depth": 4}
    assert run_json(run)["config"] == {"lr": 0.2, "model": {"depth": 4}}


def test_config_from_a_yaml_path(root, tmp_path):
    path = tmp_path / "config-defaults.yaml"
    path.write_text(
        "lr: 0.003\nbatch_size:\n  value: 32\n  desc: per device\ntags: [a, b]\nname: x\n",
        encoding="utf-8",
    )
    with runlake.init(settings={"root": root}, config=path) as run:
        # wandb's config-defaults style: {"value": ..., "desc": ...} unwraps to the value.
        assert dict(run.config.items()) == {"lr": 0.003, "batch_size": 32, "tags": ["a", "b"], "name": "x"}


def test_config_file_that_does_not_exist(root, tmp_path):
    with pytest.raises(runlake.ConfigError, match="does not exist"):
        runlake.init(settings={"root": root}, config=tmp_path / "missing.yaml")
    assert runlake.run is None


def test_config_of_an_unsupported_kind(root):
    with pytest.raises(runlake.Error):
        runlake.init(settings={"root": root}, config=42)
    assert runlake.run is None


def test_changing_a_value_needs_allow_val_change(root):
    with runlake.init(settings={"root": root}, config={"lr": 0.1, "nested": {"x": 1}}) as run:
        with pytest.raises(runlake.ConfigError, match="'lr'") as info:
            run.config.update({"lr": 0.2, "new": 1})
        assert isinstance(info.value, ValueError)
        # the refused update changes nothing, not even its other keys
        assert run.config.lr == 0.1 and "new" not in run.config
        assert run_json(run)["config"] == {"lr": 0.1, "nested": {"x": 1}}
        with pytest.raises(runlake.ConfigError):
            run.config.lr = 0.3
        with pytest.raises(runlake.ConfigError):
            run.config["nested"] = {"x": 2}
        run.config.update({"lr": 0.2}, allow_val_change=True)
        assert run.config.lr == 0.2
        assert run_json(run)["config"]["lr"] == 0.2


def test_setting_the_same_value_again_is_fine(root):
    with runlake.init(settings={"root": root}, config={"lr": 0.1, "layers": [1, 2], "d": {"a": 1}}) as run:
        run.config.update({"lr": 0.1, "layers": [1, 2], "d": {"a": 1}})
        run.config.lr = 0.1
        assert run.config.lr == 0.1


def test_init_allow_val_change_allows_later_changes(root):
    with runlake.init(settings={"root": root}, config={"lr": 0.1}, allow_val_change=True) as run:
        run.config.lr = 0.5
        assert run.config.lr == 0.5
    assert run_json(run)["config"] == {"lr": 0.5}


def test_config_include_and_exclude_keys(root):
    cfg = {"lr": 0.1, "bs": 32, "secret": "x"}
    with runlake.init(settings={"root": root}, config=cfg, config_include_keys=["lr", "bs"]) as run:
        assert dict(run.config.items()) == {"lr": 0.1, "bs": 32}
    assert run_json(run)["config"] == {"lr": 0.1, "bs": 32}
    with runlake.init(settings={"root": root}, config=cfg, config_exclude_keys=["secret"]) as run:
        assert dict(run.config.items()) == {"lr": 0.1, "bs": 32}
    assert run_json(run)["config"] == {"lr": 0.1, "bs": 32}
    with pytest.raises(runlake.Error):
        runlake.init(settings={"root": root}, config=cfg, config_include_keys=["lr"], config_exclude_keys=["bs"])


class _Opaque:
    def __str__(self) -> str:
        return "opaque!"


class _Color(enum.Enum):
    RED = 1


class _Opt(str, enum.Enum):
    ADAM = "adam"


@dataclasses.dataclass
class _Optim:
    name: str = "sgd"
    betas: tuple = (0.9, 0.99)
    color: _Color = _Color.RED


def _fn() -> None:
    pass


@pytest.mark.parametrize("value, stored", [
    (_Opaque(), "opaque!"),
    (object, "builtins.object"),
    (_fn, f"{__name__}._fn"),
    (_Color.RED, "RED"),
    (_Opt.ADAM, "ADAM"),  # wandb stores an Enum's name, a str enum's too
    ({3, 1, 2}, [1, 2, 3]),
    (frozenset({"b", "a"}), ["a", "b"]),
    ((1, (2, 3)), [1, [2, 3]]),
    (_Optim(), {"name": "sgd", "betas": [0.9, 0.99], "color": "RED"}),
    (slice(1, 10, 2), {"slice_start": 1, "slice_step": 2, "slice_stop": 10}),
    (slice(4), {"slice_start": None, "slice_step": None, "slice_stop": 4}),
    (b"bytes", "bytes"),
    (datetime.date(2024, 5, 6), "2024-05-06"),
    (1 + 2j, "(1+2j)"),
    ({"inner": [1, _Opaque()]}, {"inner": [1, "opaque!"]}),
])
def test_values_are_sanitised_as_wandb_does(root, value, stored):
    with runlake.init(settings={"root": root}, config={"ok": 1}) as run:
        run.config.update({"obj": value, "other": 2})
        assert run.config.obj == stored and run.config.other == 2
    assert run_json(run)["config"] == {"ok": 1, "obj": stored, "other": 2}


def test_non_str_keys_inside_values_become_strings(root):
    # the shape of transformers' PretrainedConfig.to_dict()
    hf = {"id2label": {0: "NEG", 1: "POS"}, "label2id": {"NEG": 0, "POS": 1},
          "task_specific_params": {"summarization": {"num_beams": 4}}, "flags": {True: "t", None: "n"},
          "np_keys": {np.int64(3): "three"}}
    with runlake.init(settings={"root": root}) as run:
        run.config.update(hf)
        assert run.config.id2label == {"0": "NEG", "1": "POS"}
        assert run.config.flags == {"true": "t", "null": "n"} and run.config.np_keys == {"3": "three"}
    stored = run_json(run)["config"]
    assert stored["id2label"] == {"0": "NEG", "1": "POS"} and stored["label2id"] == {"NEG": 0, "POS": 1}


def test_dashes_around_keys_are_stripped(root):
    with runlake.init(settings={"root": root}, config={"--lr": 0.1}) as run:
        run.config["-bs-"] = 8
        run.config.setdefaults({"--lr": 0.5})  # already set as "lr": not a change
        assert run.config.lr == 0.1 and run.config.bs == 8
    assert run_json(run)["config"] == {"lr": 0.1, "bs": 8}
    with runlake.init(settings={"root": root}) as run:
        with pytest.raises(runlake.InvalidNameError, match="empty"):
            run.config.update({"--": 1})
        with pytest.raises(TypeError, match="must be strings"):
            run.config.update({1: "x"})


def test_media_values_are_refused_naming_the_key(root):
    with runlake.init(settings={"root": root}, config={"ok": 1}) as run:
        with pytest.raises(TypeError, match="'img'.*Image"):
            run.config.update({"img": runlake.Image(np.zeros((2, 2, 3), dtype=np.uint8)), "x": 1})
        assert "img" not in run.config and "x" not in run.config
    assert run_json(run)["config"] == {"ok": 1}


def test_self_containing_config_creates_no_run(root):
    loop: dict = {}
    loop["me"] = loop
    with pytest.raises(runlake.Error, match="'bad.me.me"):
        runlake.init(settings={"root": root}, config={"bad": loop})
    assert runlake.run is None
    assert not root.exists()


def test_numpy_and_paths_are_stored_as_plain_values(root):
    with runlake.init(settings={"root": root}) as run:
        run.config.update({"f": np.float32(0.5), "i": np.int64(3), "arr": np.arange(3), "p": Path("a/b")})
        assert run.config.f == 0.5 and type(run.config.f) is float
    assert run_json(run)["config"] == {"f": 0.5, "i": 3, "arr": [0, 1, 2], "p": str(Path("a/b"))}


def test_str_enum_keys_are_their_values(root):
    with runlake.init(settings={"root": root}, config={_Opt.ADAM: 1}) as run:
        assert "adam" in run.config
    assert run_json(run)["config"] == {"adam": 1}


def test_config_is_persisted_at_once(root):
    run = runlake.init(settings={"root": root}, config={"a": 1})
    assert run_json(run)["config"] == {"a": 1}
    run.config.update({"b": {"c": [1, 2]}})
    assert run_json(run)["config"] == {"a": 1, "b": {"c": [1, 2]}}
    run.config.d = "x"
    assert run_json(run)["config"]["d"] == "x"
    del run.config["a"]
    assert "a" not in run_json(run)["config"]
    runlake.config.update({"e": 5})
    assert run_json(run)["config"]["e"] == 5
    assert run_json(run)["state"] == "running"
    run.finish()


def test_a_config_dict_shaped_like_a_nonfinite_marker_keeps_the_project_readable(root):
    """{"_nonfinite": "adam"} once made run.json undecodable, and with it Api().runs(project)."""
    with runlake.init(settings={"root": root}, project="p", config={"opt": {"_nonfinite": "adam"}}) as run:
        run.log({"a": 1.0})
    with runlake.init(settings={"root": root}, project="p"):
        pass
    runs = runlake.Api(root).runs("p")
    assert len(runs) == 2
    assert runlake.Api(root).run(run.path).config == {"opt": {"_nonfinite": "adam"}}
