"""The session: the active run, init/finish, run attributes, environment, disabled mode, names."""

from __future__ import annotations

import dataclasses
import os
import re
import warnings
from pathlib import Path

import pytest

import runlake
from tests import helpers
from tests.helpers import rows


def run_json(run: runlake.Run) -> dict:
    return helpers.run_json(Path(run.settings.root), run.id, run.entity, run.project)


# -- the active run ----------------------------------------------------------------------------

def test_run_is_none_before_init_and_after_finish(root):
    assert runlake.run is None
    run = runlake.init(settings={"root": root})
    assert runlake.run is run
    run.finish()
    assert runlake.run is None


def test_module_finish_finishes_the_active_run_and_is_harmless_without_one(root):
    runlake.finish()  # nothing active: a no-op
    run = runlake.init(settings={"root": root})
    runlake.log({"a": 1})
    runlake.finish()
    assert runlake.run is None
    assert run_json(run)["state"] == "finished"
    assert rows(root) == [{"_step": 0, "a": 1}]


@pytest.mark.parametrize("name", ["config", "summary"])
def test_config_and_summary_raise_before_init(name):
    guard = getattr(runlake, name)
    with pytest.raises(runlake.Error, match="init"):
        guard["x"]
    with pytest.raises(runlake.Error, match="init"):
        guard.x
    with pytest.raises(runlake.Error, match="init"):
        guard.update({"x": 1})
    with pytest.raises(runlake.Error, match="init"):
        runlake.define_metric("x")


def test_second_init_returns_the_active_run_with_a_warning(root):
    first = runlake.init(settings={"root": root})
    with pytest.warns(UserWarning, match=first.id):
        second = runlake.init(settings={"root": root}, project="other")
    assert second is first
    assert runlake.run is first
    assert len(list(root.glob("runs/*/*/run_id=*"))) == 1


@pytest.mark.parametrize("reinit", [True, "finish_previous"])
def test_reinit_finishes_the_previous_run(root, reinit):
    first = runlake.init(settings={"root": root})
    first.log({"a": 1})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = runlake.init(settings={"root": root}, reinit=reinit)
    assert second is not first and runlake.run is second
    assert run_json(first)["state"] == "finished"
    assert run_json(second)["state"] == "running"
    with pytest.raises(runlake.Error):
        first.log({"a": 2})
    second.finish()


def test_with_block_finishes_the_run(root):
    with runlake.init(settings={"root": root}) as run:
        assert runlake.run is run
        run.log({"a": 1})
    assert runlake.run is None
    meta = run_json(run)
    assert meta["state"] == "finished" and meta["exit_code"] == 0 and meta["error"] is None
    assert meta["finished_at"] is not None
    assert rows(root) == [{"_step": 0, "a": 1}]


def test_exception_in_with_block_marks_the_run_failed(root):
    with pytest.raises(ZeroDivisionError):
        with runlake.init(settings={"root": root}) as run:
            run.log({"a": 1})
            1 / 0
    assert runlake.run is None
    meta = run_json(run)
    assert meta["state"] == "failed"
    assert meta["exit_code"] == 1
    assert meta["error"] == "ZeroDivisionError: division by zero"
    assert rows(root) == [{"_step": 0, "a": 1}]


def test_finish_with_a_nonzero_exit_code_fails_the_run(root):
    run = runlake.init(settings={"root": root})
    run.finish(exit_code=2)
    meta = run_json(run)
    assert meta["state"] == "failed" and meta["exit_code"] == 2
    run.finish()  # a second finish changes nothing
    assert run_json(run)["state"] == "failed"


def test_join_is_an_alias_of_finish(root):
    run = runlake.init(settings={"root": root})
    run.log({"a": 1})
    run.join()
    assert runlake.run is None
    assert run_json(run)["state"] == "finished"
    assert rows(root) == [{"_step": 0, "a": 1}]


# -- attributes --------------------------------------------------------------------------------

def test_attributes_of_the_reference(root):
    with runlake.init(
        settings={"root": root}, project="proj", entity="team", config={"lr": 0.1}, name="my-run",
        notes="some notes", tags=["a", "b"], group="g1", job_type="train", id="abcd1234",
    ) as run:
        run.log({"loss": 0.5})
        assert run.summary["loss"] == 0.5
        assert run.config.lr == 0.1
        assert run.dir == str(root / "runs" / "entity=team" / "project=proj" / "run_id=abcd1234" / "files")
        assert os.path.isdir(run.dir)
        assert run.entity == "team"
        assert run.project == "proj" and run.project_name() == "proj"
        assert run.group == "g1"
        assert run.job_type == "train"
        assert run.id == "abcd1234"
        assert run.mode == "online"
        assert run.name == "my-run"
        assert run.notes == "some notes"
        assert run.path == "team/proj/abcd1234"
        assert run.resumed is False
        assert isinstance(run.settings, runlake.Settings)
        with pytest.raises(dataclasses.FrozenInstanceError):
            run.settings.project = "x"
        assert isinstance(run.start_time, float) and run.start_time > 0
        assert run.starting_step == 0
        assert run.step == 1
        assert run.sweep_id is None
        assert tuple(run.tags) == ("a", "b")
        assert run.url is None  # a local run has no link until a base URL is set (test_urls.py)
    meta = run_json(run)
    assert (meta["id"], meta["entity"], meta["project"]) == ("abcd1234", "team", "proj")
    assert meta["name"] == meta["display_name"] == "my-run"
    assert (meta["group"], meta["job_type"], meta["notes"]) == ("g1", "train", "some notes")
    assert meta["tags"] == ["a", "b"]
    assert meta["start_time"] == run.start_time


def test_name_tags_and_notes_are_settable_and_persisted(root):
    run = runlake.init(settings={"root": root}, name="before", tags=["x"])
    run.name = "after"
    run.tags = ("t1", "t2")
    run.notes = "new notes"
    assert run.name == "after" and tuple(run.tags) == ("t1", "t2") and run.notes == "new notes"
    meta = run_json(run)  # written at once, while running
    assert meta["name"] == meta["display_name"] == "after"
    assert meta["tags"] == ["t1", "t2"]
    assert meta["notes"] == "new notes"
    with pytest.raises(TypeError):
        run.tags = "not-a-list"
    with pytest.raises(TypeError):
        run.name = 3
    run.finish()
    meta = run_json(run)
    assert (meta["name"], meta["tags"], meta["notes"]) == ("after", ["t1", "t2"], "new notes")


def test_tags_must_be_strings(root):
    with pytest.raises(TypeError):
        runlake.init(settings={"root": root}, tags="abc")
    with pytest.raises(TypeError):
        runlake.init(settings={"root": root}, tags=["a", 1])
    assert runlake.run is None and not root.exists()


# -- the environment ---------------------------------------------------------------------------

ENV_CASES = {
    "PROJECT": ("env-proj", lambda r: r.project),
    "ENTITY": ("env-ent", lambda r: r.entity),
    "RUN_ID": ("envid123", lambda r: r.id),
    "NAME": ("env name", lambda r: r.name),
    "NOTES": ("env notes", lambda r: r.notes),
    "TAGS": ("t1, t2,t3", lambda r: tuple(r.tags)),
    "RUN_GROUP": ("env-group", lambda r: r.group),
    "JOB_TYPE": ("eval", lambda r: r.job_type),
}
ENV_EXPECTED = {"TAGS": ("t1", "t2", "t3")}


@pytest.mark.parametrize("prefix", ["RUNLAKE_", "WANDB_"])
@pytest.mark.parametrize("suffix", sorted(ENV_CASES))
def test_environment_fills_what_init_is_not_given(root, monkeypatch, prefix, suffix):
    value, read = ENV_CASES[suffix]
    monkeypatch.setenv(prefix + suffix, value)
    with runlake.init(settings={"root": root}) as run:
        assert read(run) == ENV_EXPECTED.get(suffix, value)
    meta = run_json(run)
    field = {"RUN_ID": "id", "RUN_GROUP": "group", "JOB_TYPE": "job_type"}.get(suffix, suffix.lower())
    assert meta[field] == (list(ENV_EXPECTED[suffix]) if suffix in ENV_EXPECTED else value)


@pytest.mark.parametrize("prefix", ["RUNLAKE_", "WANDB_"])
def test_environment_dir_and_mode(tmp_path, monkeypatch, prefix):
    # $RUNLAKE_DIR is the store root; $WANDB_DIR a folder it lives under, as init(dir=...)
    store = tmp_path / "env-store" / ("runlake-store" if prefix == "WANDB_" else "")
    monkeypatch.setenv(prefix + "DIR", str(tmp_path / "env-store"))
    with runlake.init() as run:
        run.log({"a": 1})
    assert rows(store) == [{"_step": 0, "a": 1}]
    assert not (tmp_path / "runlake-store").exists()
    monkeypatch.setenv(prefix + "MODE", "disabled")
    other = tmp_path / "other-store"
    monkeypatch.setenv(prefix + "DIR", str(other))
    with runlake.init() as run:
        assert run.mode == "disabled"
        run.log({"a": 1})
    assert not other.exists()


def test_init_arguments_win_over_the_environment(root, monkeypatch, tmp_path):
    for prefix in ("RUNLAKE_", "WANDB_"):
        monkeypatch.setenv(prefix + "PROJECT", prefix + "p")
        monkeypatch.setenv(prefix + "ENTITY", prefix + "e")
        monkeypatch.setenv(prefix + "NAME", prefix + "n")
        monkeypatch.setenv(prefix + "TAGS", "envtag")
        monkeypatch.setenv(prefix + "DIR", str(tmp_path / (prefix + "store")))
        monkeypatch.setenv(prefix + "RUN_ID", prefix.lower().strip("_") + "id1")
    with runlake.init(settings={"root": root}, project="arg-p", entity="arg-e", name="arg-n", tags=["argtag"],
                      id="argid123") as run:
        assert (run.project, run.entity, run.name, tuple(run.tags), run.id) == (
            "arg-p", "arg-e", "arg-n", ("argtag",), "argid123"
        )
    assert (root / "runs" / "entity=arg-e" / "project=arg-p" / "run_id=argid123").is_dir()
    assert not (tmp_path / "RUNLAKE_store").exists() and not (tmp_path / "WANDB_store").exists()


def test_runlake_variables_win_over_wandb_ones(root, monkeypatch):
    monkeypatch.setenv("RUNLAKE_PROJECT", "from-runlake")
    monkeypatch.setenv("WANDB_PROJECT", "from-wandb")
    with runlake.init(settings={"root": root}) as run:
        assert run.project == "from-runlake"


def test_settings_win_over_the_environment_and_init_over_settings(root, monkeypatch):
    monkeypatch.setenv("RUNLAKE_PROJECT", "from-env")
    with runlake.init(settings=runlake.Settings(root=root, project="from-settings")) as run:
        assert run.project == "from-settings"
    with runlake.init(project="from-arg", settings={"root": root, "project": "from-settings"}) as run:
        assert run.project == "from-arg"


def test_defaults_without_environment(tmp_path):
    with runlake.init() as run:
        assert run.project == "uncategorized" and run.entity == "local"
        assert run.mode == "online" and tuple(run.tags) == ()
    # the default root is ./runlake-store in the working directory (the test's tmp_path)
    assert (tmp_path / "runlake-store" / "runs" / "entity=local" / "project=uncategorized").is_dir()


def test_invalid_mode_raises():
    with pytest.raises(runlake.Error, match="mode"):
        runlake.init(mode="sideways")


# -- disabled mode -----------------------------------------------------------------------------

def test_disabled_mode_writes_nothing_and_every_call_works(root, tmp_path):
    before = sorted(p.name for p in tmp_path.iterdir())
    with runlake.init(settings={"root": root}, mode="disabled", config={"lr": 0.1}, project="p") as run:
        assert runlake.run is run
        assert run.mode == "disabled" and run.disabled
        run.log({"a": 1, "nested": {"b": 2.0}})
        run.log({"a": 2}, step=10)
        run.log({"a": 3}, commit=False)
        runlake.log({"c": "x"})
        run.define_metric("a", summary="max")
        runlake.define_metric("b", step_metric="a")
        run.config.update({"bs": 2})
        run.config.lr = 0.1
        assert run.config.bs == 2
        run.summary["s"] = 1
        run.summary.update({"t": 2})
        assert run.summary["s"] == 1
        run.name = "renamed"
        run.tags = ["x"]
        run.notes = "n"
        assert run.url is None
        assert isinstance(run.id, str) and run.name == "renamed"
        assert run._flush()
    run.finish()
    runlake.finish()
    assert runlake.run is None
    assert not root.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_disabled_mode_from_settings(root):
    with runlake.init(settings=runlake.Settings(root=root, mode="disabled")) as run:
        run.log({"a": 1})
    assert not root.exists()


# -- names and ids -----------------------------------------------------------------------------

BAD_NAMES = ["..", "../escape", "a/b", "/abs", "a\0b", "a\\b", ".hidden", "a..b", "x" * 129]


@pytest.mark.parametrize("bad", BAD_NAMES)
@pytest.mark.parametrize("field", ["project", "entity", "id"])
def test_invalid_names_raise_and_create_nothing(tmp_path, field, bad):
    root = tmp_path / "deep" / "store"
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    with pytest.raises(runlake.InvalidNameError) as info:
        runlake.init(settings={"root": root}, **{field: bad})
    assert isinstance(info.value, ValueError)
    assert runlake.run is None
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before
    assert not (tmp_path / "escape").exists()


def test_existing_run_id_is_refused(root):
    with runlake.init(settings={"root": root}, id="same1234"):
        pass
    with pytest.raises(runlake.RunExistsError):
        runlake.init(settings={"root": root}, id="same1234")
    assert runlake.run is None


def test_run_ids_are_url_safe_and_unique(root):
    ids = set()
    for _ in range(30):
        with runlake.init(settings={"root": root}, reinit=True) as run:
            assert len(run.id) >= 8
            assert re.fullmatch(r"[A-Za-z0-9_-]+", run.id), run.id
            ids.add(run.id)
    assert len(ids) == 30


def test_default_names_are_two_words_and_the_run_number(root):
    names = []
    for _ in range(3):
        with runlake.init(settings={"root": root}, project="named") as run:
            names.append(run.name)
    for i, name in enumerate(names, start=1):
        assert re.fullmatch(rf"[a-z]+-[a-z]+-{i}", name), name
    with runlake.init(settings={"root": root}, project="fresh") as run:
        assert run.name.endswith("-1")


# Every method of wandb's Run reference (v0.18): each is a real method now.
REFERENCE_METHODS = (
    "alert define_metric detach display finish finish_artifact get_project_url get_sweep_url "
    "get_url join link_artifact link_model log log_artifact log_code log_model mark_preempting "
    "plot_table project_name restore save status to_html unwatch upsert_artifact use_artifact "
    "use_model watch __enter__ __exit__"
).split()


def test_every_reference_method_is_implemented_and_probing_is_safe(root):
    missing = [m for m in REFERENCE_METHODS if not callable(getattr(runlake.Run, m, None))]
    assert missing == []
    with runlake.init(settings={"root": root}) as run:
        # probing for a method (as integrations do) must not raise anything but AttributeError
        with pytest.raises(AttributeError):
            run.no_such_method
        assert getattr(run, "no_such_method", None) is None


@pytest.mark.parametrize("arg", ["resume", "resume_from", "fork_from"])
def test_resuming_or_forking_a_missing_run_fails_and_writes_nothing(root, arg):
    # (tests/tracking/test_resume.py has the rest of resume, rewind and fork)
    extra = {"id": "abc"} if arg == "resume" else {}
    with pytest.raises(runlake.RunNotFoundError, match="abc"):
        runlake.init(settings={"root": root}, **extra, **{arg: "must" if arg == "resume" else "abc?_step=1"})
    assert runlake.run is None and not root.exists()
