"""`Run.log_model`, `Run.use_model` and `Run.link_model`: artifacts whose type holds "model",
and the model registry (portfolios in the `model-registry` project), with the checks of
wandb's Run reference:
ValueError for a name with other characters than letters, digits, '-', '_' and '.';
AssertionError when a registered model name is a path or a model artifact's type lacks "model".
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from runlake.errors import UsageError
from runlake.engine.objects import ArtifactStore
from runlake.artifacts.base import parse_artifact_path

from runlake.artifacts.artifact import Artifact

from runlake.tracking import artifacts as run_artifacts
from runlake.tracking.handle import RunHandle

REGISTRY_PROJECT = "model-registry"
_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


def _check_name(name: Any, what: str = "name") -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"{what} {name!r} holds characters a model artifact name cannot: use only letters, "
            "digits, '-', '_' and '.' (no entity/project prefix: the run's project is used)"
        )


def _model_artifact(run: RunHandle, path: Any, name: str | None) -> Artifact:
    if name is not None:
        _check_name(name)
    text = os.fspath(path)
    base = text.rstrip("/").rsplit("/", 1)[-1] if "://" in text else Path(text).name
    name = name or run_artifacts.default_name(run, base)
    model_type = "model"
    store = ArtifactStore(run.paths.root) if run.paths is not None else None
    if store is not None and store.versions(run.entity, run.project, name):
        # An existing artifact keeps its type, which must still be a model's.
        newest = store.manifest(run.entity, run.project, name,
                                store.versions(run.entity, run.project, name)[-1])
        model_type = newest["type"]
        assert "model" in model_type, (
            f"artifact {name!r} has type {model_type!r}, not a model type: a model artifact's "
            "type must contain 'model'; pick another name"
        )
    return run_artifacts._as_artifact(run, path, name, model_type, "log_model")


def log_model(run: RunHandle, path: Any, name: str | None = None, aliases: Any = None) -> None:
    """Log the files at `path` as a model artifact (type "model") produced by this run."""
    if name is not None:
        _check_name(name)
    if run.paths is None:
        return
    artifact = _model_artifact(run, path, name)
    run_artifacts.log_artifact(run, artifact, aliases=aliases)


def use_model(run: RunHandle, name: str) -> str:
    """Download a logged model artifact (`name:version`, `name:alias` or `name:<digest>`,
    optionally prefixed by project/ or entity/project/) and return the download's path: the
    file itself for a one-file model, else its folder."""
    if not isinstance(name, str) or ":" not in name:
        raise ValueError(
            f"use_model needs a version or alias: {name!r} -> '{name}:latest' or '{name}:v0'"
        )
    if run.paths is None:
        raise UsageError("use_model() needs a store: this run is in mode='disabled'")
    entity, project, art, ref = parse_artifact_path(name, run.entity, run.project)
    artifact = run_artifacts.use_artifact(run, f"{entity}/{project}/{art}:{ref}")
    assert "model" in artifact.type, (
        f"artifact {artifact.qualified_name} has type {artifact.type!r}: use_model reads "
        "artifacts whose type contains 'model'; use run.use_artifact() for others"
    )
    folder = Path(artifact.download())
    files = artifact.files()
    return str(folder / files[0]) if len(files) == 1 else str(folder)


def link_model(run: RunHandle, path: Any, registered_model_name: str, name: str | None = None,
               aliases: Any = None) -> None:
    """Log the model at `path` (or find the version of `name` with the same files) and link it
    to the registered model `registered_model_name` of the run's entity."""
    assert isinstance(registered_model_name, str) and "/" not in registered_model_name, (
        f"registered_model_name must be a name, not a path: {registered_model_name!r}; the "
        f"entity comes from the run and the project is {REGISTRY_PROJECT!r}"
    )
    _check_name(registered_model_name, "registered_model_name")
    if run.paths is None:
        return
    artifact = _model_artifact(run, path, name)
    run_artifacts.log_artifact(run, artifact)
    run_artifacts.link_artifact(
        run, artifact, f"{run.entity}/{REGISTRY_PROJECT}/{registered_model_name}", aliases
    )
