"""`Run.log_artifact` and `Run.use_artifact`: the Run-API side of artifacts (sdk/tracking/run.py
delegates here; storage is engine/objects.py)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runlake.errors import InvalidNameError, InvalidValueError, UsageError
from runlake.engine.layout import validate_name
from runlake.engine.objects import ArtifactStore, validate_alias
from runlake.artifacts.base import ArtifactBase, load_artifact, parse_artifact_path

from runlake.artifacts.artifact import Artifact

if TYPE_CHECKING:
    from runlake.tracking.run import Run


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


def _as_artifact(run: Run, artifact_or_path: Any, name: str | None, type: str | None,
                 what: str) -> Artifact:
    """The Artifact to log: the one given, or a new one holding a path or URI (named, as
    wandb, after the path's basename and the run)."""
    if isinstance(artifact_or_path, Artifact):
        return artifact_or_path
    if not isinstance(artifact_or_path, (str, os.PathLike)):
        raise InvalidValueError(
            f"{what} takes a runlake.Artifact or a path, got {artifact_or_path.__class__.__name__}"
        )
    text = os.fspath(artifact_or_path)
    base = Path(text).name if "://" not in text else text.rstrip("/").rsplit("/", 1)[-1]
    artifact = Artifact(name or default_name(run, base), type or "unspecified")
    if "://" in text:
        artifact.add_reference(text)
    elif Path(text).is_dir():
        artifact.add_dir(text)
    elif Path(text).is_file():
        artifact.add_file(text)
    else:
        raise InvalidValueError(f"{what}: {text} is not a file, folder or URI")
    return artifact


def default_name(run: Run, base: str) -> str:
    """`run-<id>-<basename>`, with characters a name cannot hold replaced by '_'."""
    return "run-" + run.id + "-" + (re.sub(r"[^A-Za-z0-9_.\-]", "_", base).strip(".") or "path")


def _tags(tags: Any) -> list[str]:
    tag_list = [tags] if isinstance(tags, str) else list(tags or [])
    for t in tag_list:
        validate_name("artifact tag", t)
    return tag_list


def _producer(run: Run) -> dict[str, str]:
    return {"entity": run.entity, "project": run.project, "run_id": run.id}


def log_artifact(run: Run, artifact_or_path: Any, name: str | None = None,
                 type: str | None = None, aliases: Any = None, tags: Any = None) -> Artifact:
    """Log (commit) an artifact as this run's output; identical contents give back the
    existing version, with `aliases` moved onto it. In mode="disabled" nothing is stored and
    the artifact comes back still PENDING (a no-op, like every call of a disabled run)."""
    if run._paths is None and isinstance(artifact_or_path, Artifact):
        return artifact_or_path
    root = _store_of(run, "log_artifact()")
    artifact = _as_artifact(run, artifact_or_path, name, type, "log_artifact")
    artifact._save(root, run.entity, run.project, _aliases(aliases, ["latest"]), _tags(tags),
                   _producer(run))
    return artifact


def _distributed_id(run: Run, distributed_id: Any, what: str) -> str:
    if distributed_id is None:
        distributed_id = run.group
        if not distributed_id:
            raise UsageError(
                f"{what} needs a distributed_id shared by every process adding to the "
                "version, or a run group (runlake.init(group=...)) to use as one"
            )
    return validate_name("distributed_id", distributed_id)


def upsert_artifact(run: Run, artifact_or_path: Any, name: str | None = None,
                    type: str | None = None, aliases: Any = None,
                    distributed_id: str | None = None) -> Artifact:
    """Add files to a version that several processes build together; it is committed once,
    by finish_artifact() with the same distributed_id (default: the run's group)."""
    if run._paths is None and isinstance(artifact_or_path, Artifact):
        return artifact_or_path
    root = _store_of(run, "upsert_artifact()")
    did = _distributed_id(run, distributed_id, "upsert_artifact()")
    artifact = _as_artifact(run, artifact_or_path, name, type, "upsert_artifact")
    artifact._stage(root, run.entity, run.project, did, _aliases(aliases, ["latest"]), [],
                    _producer(run))
    return artifact


def finish_artifact(run: Run, artifact_or_path: Any, name: str | None = None,
                    type: str | None = None, aliases: Any = None,
                    distributed_id: str | None = None) -> Artifact:
    """Commit the version every upsert_artifact() with this distributed_id added to (plus the
    files given here) as one new version; a later upsert starts the next version."""
    if run._paths is None and isinstance(artifact_or_path, Artifact):
        return artifact_or_path
    root = _store_of(run, "finish_artifact()")
    did = _distributed_id(run, distributed_id, "finish_artifact()")
    artifact = _as_artifact(run, artifact_or_path, name, type, "finish_artifact")
    artifact._finish(root, run.entity, run.project, did, _aliases(aliases, ["latest"]), [],
                     _producer(run))
    return artifact


def parse_portfolio(target_path: Any, entity: str, project: str) -> tuple[str, str, str]:
    """(entity, project, portfolio) of `{portfolio}`, `{project}/{portfolio}` or
    `{entity}/{project}/{portfolio}`."""
    if not isinstance(target_path, str) or not target_path:
        raise InvalidNameError(f"link target must be a non-empty string, got {target_path!r}")
    parts = target_path.split("/")
    if len(parts) > 3:
        raise InvalidNameError(
            f"invalid link target {target_path!r}: use portfolio, project/portfolio or "
            "entity/project/portfolio"
        )
    parts = [entity, project][: 3 - len(parts)] + parts
    e, p, n = parts
    return (validate_name("entity", e), validate_name("project", p),
            validate_name("portfolio name", n))


def link_artifact(run: Run, artifact: Any, target_path: str, aliases: Any = None) -> None:
    """Link a logged artifact version into a portfolio; `latest` names the newest link and
    `aliases` apply inside the portfolio only."""
    if run._paths is None:
        return
    root = _store_of(run, "link_artifact()")
    if not isinstance(artifact, ArtifactBase):
        raise InvalidValueError(
            f"link_artifact takes a runlake.Artifact, got {artifact.__class__.__name__}"
        )
    if artifact.version is None:
        raise UsageError(
            f"artifact {artifact.name} is not logged: log it with run.log_artifact() before "
            "linking it"
        )
    target = parse_portfolio(target_path, run.entity, run.project)
    source = (artifact._entity, artifact._project, artifact._name, artifact._version)
    ArtifactStore(artifact._root or root).link(source, target, _aliases(aliases, []))


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
    if use_as is not None and not isinstance(use_as, str):
        raise InvalidValueError(f"use_as must be a string, got {use_as.__class__.__name__}")
    store.add_consumer(ent, proj, name, artifact._version, (run.entity, run.project, run.id),
                       use_as)
    return artifact
