"""run.save (wandb's path rules, policies, globs), run.restore, and their bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import runlake
import runlake as wandb
from runlake.errors import InvalidNameError, InvalidValueError, RunFileError, UsageError

from tests.helpers import wait_for

FAST = runlake.Settings(file_poll_interval=0.01)


def _file(path: Path | str, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _stored(run: runlake.Run) -> dict[str, str]:
    files = Path(run.dir)
    return {p.relative_to(files).as_posix(): p.read_text()
            for p in sorted(files.rglob("*")) if p.is_file()}


# -- the five examples of wandb's Run reference (wandb.save, module level, as written there) -


def test_reference_example_relative_glob_keeps_its_folders(root):
    _file("these/are/myfiles/a.txt", "a")
    _file("these/are/myfiles/b.txt", "b")
    with wandb.init(settings={"root": root}) as run:
        paths = wandb.save("these/are/myfiles/*")
        # => Saves files in a "these/are/myfiles/" folder in the run.
        assert paths == [os.path.join(run.dir, "these/are/myfiles", n) for n in ("a.txt", "b.txt")]
        assert _stored(run) == {"these/are/myfiles/a.txt": "a", "these/are/myfiles/b.txt": "b"}


def test_reference_example_base_path_strips_its_prefix(root):
    _file("these/are/myfiles/a.txt", "a")
    with wandb.init(settings={"root": root}) as run:
        paths = wandb.save("these/are/myfiles/*", base_path="these")
        # => Saves files in an "are/myfiles/" folder in the run.
        assert paths == [os.path.join(run.dir, "are/myfiles/a.txt")]
        assert _stored(run) == {"are/myfiles/a.txt": "a"}


def test_reference_example_absolute_glob_keeps_one_folder(root, tmp_path):
    # The reference's "/User/username/Documents/run123/*.txt", under a temporary folder.
    docs = tmp_path / "User" / "username" / "Documents"
    _file(docs / "run123" / "x.txt", "x")
    _file(docs / "run123" / "y.log", "not matched")
    with wandb.init(settings={"root": root}) as run:
        paths = wandb.save(f"{docs}/run123/*.txt")
        # => Saves files in a "run123/" folder in the run.
        assert paths == [os.path.join(run.dir, "run123/x.txt")]
        assert _stored(run) == {"run123/x.txt": "x"}


def test_reference_example_absolute_glob_with_base_path(root, tmp_path):
    docs = tmp_path / "User" / "username" / "Documents"
    _file(docs / "run123" / "x.txt", "x")
    with wandb.init(settings={"root": root}) as run:
        paths = wandb.save(f"{docs}/run123/*.txt", base_path=f"{tmp_path}/User")
        # => Saves files in a "username/Documents/run123/" folder in the run.
        assert paths == [os.path.join(run.dir, "username/Documents/run123/x.txt")]
        assert _stored(run) == {"username/Documents/run123/x.txt": "x"}


def test_reference_example_glob_in_the_middle(root):
    _file("files/a/saveme.txt", "1")
    _file("files/b/saveme.txt", "2")
    _file("files/b/other.txt", "no")
    with wandb.init(settings={"root": root}) as run:
        wandb.save("files/*/saveme.txt")
        # => Saves each "saveme.txt" file in an appropriate subdirectory of "files/".
        assert _stored(run) == {"files/a/saveme.txt": "1", "files/b/saveme.txt": "2"}


# -- policies ---------------------------------------------------------------------------------


def test_policy_now_copies_once(root):
    src = _file("model.txt", "first")
    with runlake.init(settings=FAST.replace(root=root)) as run:
        run.save("model.txt", policy="now")
        assert _stored(run) == {"model.txt": "first"}
        src.write_text("second")
    assert _stored(run) == {"model.txt": "first"}  # neither a watcher nor finish copied again


def test_policy_end_copies_at_finish(root):
    src = _file("model.txt", "first")
    with runlake.init(settings=FAST.replace(root=root)) as run:
        assert run.save("model.txt", policy="end") == [os.path.join(run.dir, "model.txt")]
        assert _stored(run) == {}
        src.write_text("last")
    assert _stored(run) == {"model.txt": "last"}


def test_policy_live_follows_changes_and_ends_with_the_last_content(root):
    src = _file("log.txt", "v0")
    with runlake.init(settings=FAST.replace(root=root)) as run:
        run.save("log.txt")  # "live" is the default
        assert _stored(run) == {"log.txt": "v0"}
        for version in ("v1", "v22", "v3"):
            src.write_text(version)
            wait_for(f"the copy of {version}", lambda v=version: _stored(run)["log.txt"] == v, 30)
        src.write_text("v4")  # finish copies what the watcher had no time to see
    assert _stored(run) == {"log.txt": "v4"}


def test_live_file_deleted_keeps_its_last_copy(root):
    src = _file("log.txt", "kept")
    with runlake.init(settings=FAST.replace(root=root)) as run:
        run.save("log.txt")
        src.unlink()
    assert _stored(run) == {"log.txt": "kept"}


def test_a_later_save_changes_the_policy(root):
    src = _file("m.txt", "a")
    with runlake.init(settings=FAST.replace(root=root)) as run:
        run.save("m.txt", policy="end")
        run.save("m.txt", policy="now")
        src.write_text("b")
    assert _stored(run) == {"m.txt": "a"}  # "now" replaced "end": not copied again at finish


def test_globs_are_expanded_when_save_is_called(root):
    _file("out/a.txt", "a")
    with runlake.init(settings=FAST.replace(root=root)) as run:
        first = run.save("out/*.txt")
        _file("out/b.txt", "b")  # created later: not saved by the earlier call
    assert _stored(run) == {"out/a.txt": "a"}
    assert first == [os.path.join(run.dir, "out/a.txt")]


def test_returned_paths_include_what_the_run_already_has_under_the_glob(root):
    _file("out/a.txt", "a")
    with runlake.init(settings={"root": root}) as run:
        run.save("out/a.txt", policy="now")
        _file("out/b.txt", "b")
        paths = run.save("out/b.txt", policy="now")
        assert paths == [os.path.join(run.dir, "out/b.txt")]
        assert run.save("out/*", policy="now") == [
            os.path.join(run.dir, "out/a.txt"), os.path.join(run.dir, "out/b.txt")]


def test_a_working_folder_with_glob_characters(root, tmp_path, monkeypatch):
    odd = tmp_path / "exp[1]*"
    _file(odd / "out" / "a.txt", "a")
    monkeypatch.chdir(odd)
    with runlake.init(settings={"root": root}) as run:
        assert run.save("out/*.txt", policy="now") == [os.path.join(run.dir, "out/a.txt")]


def test_recursive_glob_and_folders_skipped(root):
    _file("ckpt/a/b/model.pt", "m")
    with runlake.init(settings={"root": root}) as run:
        run.save("ckpt/**", policy="now")
    assert _stored(run) == {"ckpt/a/b/model.pt": "m"}


def test_a_file_already_in_run_dir_stays_where_it_is(root):
    with runlake.init(settings={"root": root}) as run:
        own = _file(Path(run.dir) / "model.h5", "weights")
        assert run.save(str(own)) == [str(own)]
        assert _stored(run) == {"model.h5": "weights"}


def test_no_match_warns_and_returns_nothing(root):
    with runlake.init(settings={"root": root}) as run:
        with pytest.warns(UserWarning, match="matched no file"):
            assert run.save("nothing/*.txt") == []


def test_a_folder_is_not_saved_but_its_glob_is(root):
    _file("ckpt/a.txt", "a")
    with runlake.init(settings={"root": root}) as run:
        with pytest.warns(UserWarning, match="ckpt is a folder: save 'ckpt/\\*'"):
            assert run.save("ckpt") == []
        assert run.save("ckpt/*", policy="now") == [os.path.join(run.dir, "ckpt/a.txt")]


def test_legacy_and_url_forms(root):
    with runlake.init(settings={"root": root}) as run:
        with pytest.warns(DeprecationWarning):
            assert run.save() is True
        with pytest.warns(UserWarning, match="URL"):
            assert run.save("s3://bucket/x.txt") == []


def test_bytes_and_pathlike_globs(root):
    _file("a.txt", "a")
    with runlake.init(settings={"root": root}) as run:
        assert run.save(b"a.txt", policy="now") == [os.path.join(run.dir, "a.txt")]
        assert run.save(Path("a.txt"), policy="now") == [os.path.join(run.dir, "a.txt")]


# -- bad input and escapes --------------------------------------------------------------------


def test_bad_policy_and_bad_glob_are_clear_errors(root):
    _file("a.txt", "a")
    with runlake.init(settings={"root": root}) as run:
        with pytest.raises(ValueError, match=r"policy.*'live', 'now' or 'end'.*str 'sometimes'"):
            run.save("a.txt", policy="sometimes")
        with pytest.raises(TypeError, match="glob_str.*int 3"):
            run.save(3)
        with pytest.raises(TypeError, match="base_path.*int"):
            run.save("a.txt", base_path=7)
        run.log({"x": 1})
    assert runlake.Api(root).run(f"{run.project}/{run.id}").summary["x"] == 1  # nothing lost


@pytest.mark.parametrize("glob_str, base_path", [
    ("../outside.txt", None),                     # above the working directory
    ("a/../../outside.txt", None),
    ("a.txt", "/somewhere/else"),                 # base_path that is not a prefix
    ("{tmp}/a.txt", "{tmp}/a"),                  # base_path below the file
    ("{tmp}/sub/../../outside.txt", "{tmp}"),    # an absolute glob walking above its base
    ("{tmp}/../outside.txt", "{tmp}"),
])
def test_globs_may_not_walk_above_the_base_path(root, tmp_path, glob_str, base_path):
    _file(tmp_path / "a.txt", "a")
    _file(tmp_path.parent / "outside.txt", "secret")
    fill = (lambda s: s.format(tmp=tmp_path) if s is not None else None)
    with runlake.init(settings={"root": root}) as run:
        with pytest.raises(ValueError, match="not under the base path"):
            run.save(fill(glob_str), base_path=fill(base_path))
        assert _stored(run) == {}


def test_glob_equal_to_base_or_starting_with_star(root, tmp_path):
    _file("d/a.txt", "a")
    with runlake.init(settings={"root": root}) as run:
        with pytest.raises(ValueError, match="base path itself"):
            run.save("d", base_path="d")
        with pytest.raises(ValueError, match=r"may not start with '\*'"):
            run.save("*")


def test_a_symlink_inside_run_dir_cannot_redirect_a_copy(root, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    _file("evil/x.txt", "x")
    with runlake.init(settings={"root": root}) as run:
        os.symlink(outside, Path(run.dir) / "evil")
        with pytest.raises(InvalidNameError, match="outside"):
            run.save("evil/x.txt", policy="now")
    assert list(outside.iterdir()) == []


def test_a_symlinked_target_is_replaced_not_followed(root, tmp_path):
    outside = _file(tmp_path / "elsewhere" / "x.txt", "theirs")
    _file("x.txt", "mine")
    with runlake.init(settings={"root": root}) as run:
        os.symlink(outside, Path(run.dir) / "x.txt")
        run.save("x.txt", policy="now")
        assert not (Path(run.dir) / "x.txt").is_symlink()
    assert outside.read_text() == "theirs" and _stored(run) == {"x.txt": "mine"}


@pytest.mark.parametrize("interval", [0, -1, "fast", None, True])
def test_a_bad_poll_interval_is_refused(root, interval):
    _file("a.txt", "a")
    with runlake.init(settings=runlake.Settings(root=root, file_poll_interval=interval)) as run:
        with pytest.raises(ValueError, match="file_poll_interval"):
            run.save("a.txt")


def test_disabled_and_finished(root):
    _file("a.txt", "a")
    with runlake.init(mode="disabled") as run:
        assert run.save("a.txt") == []
        assert run.restore("a.txt") is None
        assert run.log_code() is None
    assert not root.exists()
    with runlake.init(settings={"root": root}) as run:
        pass
    with pytest.raises(UsageError, match="finished"):
        run.save("a.txt")


# -- restore ------------------------------------------------------------------------------------


def _run_with_file(root: Path, name: str, text: str, project: str = "p") -> str:
    _file(Path("src") / name, text)
    with runlake.init(settings={"root": root}, project=project) as run:
        run.save(f"src/{name}", base_path="src", policy="now")
    Path("src", name).unlink()
    return run.path


def test_restore_from_another_run(root):
    other = _run_with_file(root, "ckpt/model.txt", "weights")
    with runlake.init(settings={"root": root}, project="p") as run:
        f = run.restore("ckpt/model.txt", run_path=other)
        with f:
            assert f.read() == "weights"
            assert f.name == os.path.join(run.dir, "ckpt", "model.txt")
        assert _stored(run) == {"ckpt/model.txt": "weights"}


def test_restore_from_this_run(root):
    _file("m.txt", "mine")
    with runlake.init(settings={"root": root}) as run:
        run.save("m.txt", policy="now")
        with run.restore("m.txt") as f:
            assert f.read() == "mine"
        assert run.restore("missing.txt") is None


def test_restore_replace(root, tmp_path):
    other = _run_with_file(root, "model.txt", "stored")
    out = tmp_path / "out"
    _file(out / "model.txt", "local")
    with runlake.init(settings={"root": root}, project="p") as run:
        with run.restore("model.txt", run_path=other, root=str(out)) as f:
            assert f.read() == "local"  # there already: not fetched
        with run.restore("model.txt", run_path=other, root=str(out), replace=True) as f:
            assert f.read() == "stored"
    assert (out / "model.txt").read_text() == "stored"


def test_restore_missing_file_run_and_bad_names(root):
    other = _run_with_file(root, "model.txt", "stored")
    entity, project, _ = other.split("/")
    with runlake.init(settings={"root": root}, project="p") as run:
        assert run.restore("nope.txt", run_path=other) is None
        with pytest.raises(RunFileError, match="not found"):
            run.restore("model.txt", run_path=f"{entity}/{project}/nosuchrun")
        with pytest.raises(ValueError, match="entity/project/run_id"):
            run.restore("model.txt", run_path="a/b/c/d")
        with pytest.raises(ValueError):
            run.restore("model.txt", run_path="../../etc")
        for name in ("../run.json", "/etc/passwd", "a/../../x", "", "a\\..\\x"):
            with pytest.raises(ValueError):
                run.restore(name, run_path=other)
        with pytest.raises(ValueError):
            run.restore(7)
        assert _stored(run) == {}
    assert isinstance(RunFileError("x"), ValueError)


def test_module_restore_without_a_run(root, monkeypatch):
    other = _run_with_file(root, "model.txt", "stored")
    with pytest.raises(ValueError, match="run_path"):
        runlake.restore("model.txt")
    monkeypatch.setenv("RUNLAKE_DIR", str(root))
    with runlake.restore("model.txt", run_path=other) as f:
        assert f.read() == "stored"
    assert Path("model.txt").read_text() == "stored"  # the working folder without a run
    # a two-part path takes the default entity
    with runlake.restore("model.txt", run_path=other.split("/", 1)[1], replace=True) as f:
        assert f.read() == "stored"


def test_save_before_init_says_what_to_do():
    with pytest.raises(UsageError, match="init"):
        runlake.save("a.txt")


def test_invalid_value_error_is_both_builtins():
    assert issubclass(InvalidValueError, TypeError) and issubclass(InvalidValueError, ValueError)


def test_detach_makes_the_last_copies_and_stops_watching(root):
    src = _file("log.txt", "v0")
    run = runlake.init(settings=FAST.replace(root=root))
    run.save("log.txt")
    src.write_text("at detach")
    run.detach()
    assert _stored(run) == {"log.txt": "at detach"}
    assert not run._files._thread.is_alive()
    with pytest.raises(UsageError, match="detached"):
        run.save("log.txt")
