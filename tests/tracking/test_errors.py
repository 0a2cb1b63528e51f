"""One error hierarchy: every error runlake raises is a `runlake.Error` and the builtin that
wandb raises for the same case, under the class name wandb uses."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import runlake
from runlake import errors

# wandb's name -> the builtin wandb raises (or derives from) for that case.
WANDB_NAMES = {
    "Error": Exception, "UsageError": Exception, "UnsupportedError": Exception,
    "CommError": Exception, "AuthenticationError": Exception, "WaitTimeoutError": Exception,
    "ArtifactStatusError": AttributeError, "ArtifactNotLoggedError": AttributeError,
    "ArtifactFinalizedError": AttributeError,
}


def test_every_error_is_a_runlake_error() -> None:
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass)
               if issubclass(c, BaseException) and c.__module__ == errors.__name__]
    assert len(classes) > 15
    for cls in classes:
        assert issubclass(cls, runlake.Error), cls


@pytest.mark.parametrize("name,builtin", sorted(WANDB_NAMES.items()))
def test_wandb_names_exist_with_wandbs_builtin(name: str, builtin: type) -> None:
    cls = getattr(errors, name)
    assert issubclass(cls, runlake.Error) and issubclass(cls, builtin)


def test_wandb_parents() -> None:
    assert issubclass(errors.AuthenticationError, errors.CommError)
    assert issubclass(errors.UnsupportedError, errors.UsageError)
    for cls in (errors.ArtifactNotLoggedError, errors.ArtifactFinalizedError):
        # and the runlake name the same cases raised before stays catchable
        assert issubclass(cls, errors.ArtifactStatusError) and issubclass(cls, errors.UsageError)


def test_non_str_log_key_is_a_type_error(root: Path) -> None:
    with runlake.init(settings={"root": root}, project="p") as run:
        with pytest.raises(TypeError, match="keys must be strings") as info:
            run.log({1: 0.5})
        assert isinstance(info.value, (runlake.Error, ValueError))


@pytest.mark.parametrize("make", [runlake.Image, runlake.Audio, runlake.Video, runlake.Object3D])
def test_missing_media_path_is_file_not_found(tmp_path: Path, make) -> None:
    suffix = {"Image": ".png", "Audio": ".wav", "Video": ".mp4", "Object3D": ".obj"}[make.__name__]
    missing = tmp_path / f"nope{suffix}"
    with pytest.raises(FileNotFoundError, match="nope") as info:
        make(str(missing))
    assert isinstance(info.value, runlake.Error)


def test_changing_a_logged_artifact_is_artifact_finalized(root: Path, tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("a")
    with runlake.init(settings={"root": root}, project="p") as run:
        art = runlake.Artifact("data", "dataset")
        art.add_file(f)
        run.log_artifact(art)
        with pytest.raises(errors.ArtifactFinalizedError) as info:
            art.add_file(f, name="b.txt")
        assert isinstance(info.value, AttributeError) and isinstance(info.value, runlake.Error)


def test_unlogged_artifact_download_is_artifact_not_logged(tmp_path: Path) -> None:
    art = runlake.Artifact("data", "dataset")
    with pytest.raises(errors.ArtifactNotLoggedError) as info:
        art.download(tmp_path / "out")
    assert isinstance(info.value, AttributeError)


def test_bad_mode_is_a_value_error(root: Path) -> None:
    with pytest.raises(ValueError, match="bogus") as info:
        runlake.init(settings={"root": root}, project="p", mode="bogus")
    assert isinstance(info.value, runlake.Error)
