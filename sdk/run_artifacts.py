"""`Run.log_artifact` and `Run.use_artifact`: the Run-API side of artifacts (sdk/live_run.py
delegates here; storage is engine/objects.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runlake.engine.errors import InvalidValueError, UsageError
from runlake.engine.layout import validate_name
from runlake.engine.objects import ArtifactStore, validate_alias
from runlake.query.artifacts import load_artifact, parse_artifact_path

from .artifact import Artifact

if TYPE_CHECKING:
    from .live_run import Run


def _aliases(aliases: Any, default: list[str]) -> list[str]:
    if aliases is None:
        return default
    if isinstance(aliases, str):
        aliases = [aliases]
    if not isinstance(aliases, (list, tuple, set)):
        raise InvalidValueError(f"aliases must be a string or a list of strings, got {aliases!r}")
    return [validate_alias(a) if a != "latest" else a for a in aliases]


def _store_of(run: Run, what: str) -> Path:
    if run._paths is None:
        raise UsageError(f"{what} needs a store: this run is in mode='disabled'")
    if run._finished:
        raise run._closed(what)
    return run._paths.root


def log_artifact(run: Run, artifact_or_path: Any, name: str | None = None,
                 type: str | None = None, aliases: Any = None, tags: Any = None) -> Artifact:
    """Log (commit) an artifact as this run's output; identical contents give back the
    existing version, with `aliases` moved onto it. In mode="disabled" nothing is stored and
    the artifact comes back still PENDING (a no-op, like every call of a disabled run)."""
    if run._paths is None and isinstance(artifact_or_path, Artifact):
        return artifact_or_path
    root = _store_of(run, "log_artifact()")
    if isinstance(artifact_or_path, Artifact):
        artifact = artifact_or_path
    elif isinstance(artifact_or_path, (str, os.PathLike)):
        text = os.fspath(artifact_or_path)
        base = Path(text).name if "://" not in text else text.rstrip("/").rsplit("/", 1)[-1]
        artifact = Artifact(name or f"run-{run.id}-{base}", type or "unspecified")
        if "://" in text:
            artifact.add_reference(text)
        elif Path(text).is_dir():
            artifact.add_dir(text)
        elif Path(text).is_file():
            artifact.add_file(text)
        else:
            raise InvalidValueError(f"log_artifact: {text} is not a file, folder or URI")
    else:
        raise InvalidValueError(
            f"log_artifact takes a runlake.Artifact or a path, got {artifact_or_path.__class__.__name__}"
        )
    tag_list = [tags] if isinstance(tags, str) else list(tags or [])
    for t in tag_list:
        validate_name("artifact tag", t)
    producer = {"entity": run.entity, "project": run.project, "run_id": run.id}
    artifact._save(root, run.entity, run.project, _aliases(aliases, ["latest"]), tag_list, producer)
    return artifact


def use_artifact(run: Run, artifact_or_name: Any, type: str | None = None, aliases: Any = None,
                 use_as: str | None = None) -> Artifact:
    """Declare an artifact version as this run's input (lineage) and return it, readable."""
    root = _store_of(run, "use_artifact()")
    if isinstance(artifact_or_name, Artifact):
        if artifact_or_name.state != "COMMITTED":
            raise UsageError(
                f"artifact {artifact_or_name.name} is not logged: log it with run.log_artifact() "
                "(or another run's) before using it"
            )
        ent, proj = artifact_or_name._entity, artifact_or_name._project
        name, ref = artifact_or_name._name, artifact_or_name.version
        root = artifact_or_name._root or root
    elif isinstance(artifact_or_name, str):
        ent, proj, name, ref = parse_artifact_path(artifact_or_name, run.entity, run.project)
    else:
        raise InvalidValueError(
            f"use_artifact takes a runlake.Artifact or a name, got {artifact_or_name.__class__.__name__}"
        )
    artifact = load_artifact(root, ent, proj, name, ref, cls=Artifact)
    if type is not None and artifact.type != type:
        raise InvalidValueError(
            f"artifact {artifact.qualified_name} has type {artifact.type!r}, not {type!r}"
        )
    store = ArtifactStore(root)
    extra = [a for a in _aliases(aliases, []) if a != "latest"]
    if extra:
        store.set_aliases(ent, proj, name, artifact._version, extra)
        artifact._aliases = sorted(set(artifact._aliases) | set(extra))
    store.add_consumer(ent, proj, name, artifact._version, (run.entity, run.project, run.id))
    return artifact
