"""init()'s wandb surface: reinit as wandb 0.19.10+, dryrun, anonymous/force, the TensorBoard
and gym flags, Settings' wandb names, and the Run attributes wandb code reads."""

from __future__ import annotations

import warnings

import pytest

import runlake
from runlake.tracking import session
from tests.helpers import rows, run_json


@pytest.fixture
def store(root):
    yield {"root": root}
    for run in session.live_runs():  # create_new runs are not runlake.run: conftest misses them
        run.finish()


def test_create_new_keeps_runlake_run_and_module_calls_on_the_first(root, store):
    first = runlake.init(settings=store)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = runlake.init(settings=store, reinit="create_new")
    assert second is not first and runlake.run is first
    assert session.live_runs() == [first, second]
    runlake.log({"a": 1})  # to the active run
    second.log({"b": 2})
    first.finish()
    assert runlake.run is None and session.live_runs() == [second]  # as wandb: no switch
    second.finish()
    assert rows(root, first.id) == [{"_step": 0, "a": 1}]
    assert rows(root, second.id) == [{"_step": 0, "b": 2}]


def test_create_new_with_no_run_live_does_not_become_active(store):
    run = runlake.init(settings=store, reinit="create_new")
    assert runlake.run is None and session.live_runs() == [run]
    with pytest.raises(runlake.UsageError):
        runlake.log({"a": 1})


@pytest.mark.parametrize("reinit", [None, "default", "return_previous", False])
def test_other_values_return_the_latest_live_run(store, reinit):
    first = runlake.init(settings=store)
    second = runlake.init(settings=store, reinit="create_new")
    with pytest.warns(UserWarning, match=second.id):
        again = runlake.init(settings=store, reinit=reinit)
    assert again is second and runlake.run is first


def test_finish_previous_finishes_every_live_run(root, store):
    first = runlake.init(settings=store)
    second = runlake.init(settings=store, reinit="create_new")
    third = runlake.init(settings=store, reinit="finish_previous")
    assert runlake.run is third and session.live_runs() == [third]
    assert {run_json(root, r.id)["state"] for r in (first, second)} == {"finished"}


def test_reinit_from_settings_and_bad_values(store):
    first = runlake.init(settings=store)
    second = runlake.init(settings={**store, "reinit": "create_new"})
    assert second is not first and runlake.run is first
    with pytest.raises(runlake.UsageError, match="reinit.*'create_new'.*got str 'sometimes'"):
        runlake.init(settings=store, reinit="sometimes")


def test_resume_must_with_a_live_run_is_refused(store):
    runlake.init(settings=store)
    with pytest.raises(runlake.UsageError, match="resume='must'.*create_new"):
        runlake.init(settings=store, id="other", resume="must")


@pytest.mark.parametrize("how", ["argument", "env"])
def test_dryrun_is_offline(root, monkeypatch, how):
    if how == "env":
        monkeypatch.setenv("WANDB_MODE", "dryrun")  # what Lightning's WandbLogger(offline=True) sets
    with runlake.init(settings={"root": root}, mode="dryrun" if how == "argument" else None) as run:
        assert run.mode == "offline" and not run.disabled
        run.log({"a": 1})
    assert rows(root, run.id) == [{"_step": 0, "a": 1}]


def test_a_bad_mode_names_the_value(root):
    with pytest.raises(runlake.UsageError, match="dryrun.*got str 'turbo'"):
        runlake.init(mode="turbo")


def test_anonymous_and_force_are_accepted(root):
    for value in ("allow", "never", "must", None):
        with runlake.init(settings={"root": root}, anonymous=value, force=True) as run:
            assert run.mode == "online"
    with pytest.raises(runlake.UsageError, match="anonymous.*got bool True"):
        runlake.init(anonymous=True)


@pytest.mark.parametrize("flag", ["sync_tensorboard", "tensorboard", "monitor_gym"])
def test_tensorboard_and_gym_flags_warn(root, flag):
    with pytest.warns(UserWarning, match=f"{flag}=True.*copies nothing"):
        run = runlake.init(settings={"root": root}, **{flag: True})
    run.finish()


def test_settings_wandb_names(root):
    s = runlake.Settings(root=str(root), run_name="named", start_method="thread",
                         init_timeout=90, silent=True)
    with runlake.init(settings=s) as run:
        assert run.name == "named" and run.settings.run_name == "named" and run.settings.quiet
    with runlake.init(settings=s, name="arg") as run:  # the argument wins, as for name=
        assert run.name == "arg" == run.settings.run_name


def test_run_attributes_wandb_code_reads(root):
    with runlake.init(settings={"root": root, "base_url": "https://dash.example"},
                      project="p", config={"lr": 0.1}) as run:
        static = run.config_static
        assert static.lr == 0.1 and static["lr"] == 0.1 and "lr" in static
        run.config["bs"] = 8
        assert static.bs == 8 and dict(static.items()) == {"lr": 0.1, "bs": 8}
        with pytest.raises(runlake.UsageError, match="read-only.*run.config"):
            static.lr = 1
        with pytest.raises(AttributeError):
            static.missing
        assert run.project_url == "https://dash.example/local/p" == run.get_project_url()
        assert run.sweep_url is None
        assert run.sync_dir.endswith(f"run_id={run.id}")
        run._label(code="transformers_trainer")  # what transformers' WandbCallback calls
        assert run._attach_id is None
