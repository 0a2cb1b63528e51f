"""Distributed artifact versions: several processes add files to one version, committed once.

    <root>/artifacts/entity=<e>/project=<p>/name=<name>/staging/<distributed_id>/part-<uuid>.json

Each upsert writes a part of its own (its entries, whose objects are already in the object
store), so concurrent upserts from any number of processes never contend and lose no file.
Finishing claims the folder by renaming it, which takes every part written so far at once: an
upsert that comes after the claim starts the next version, as wandb's "a later upsert with the
same distributed id makes a new version".
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from runlake.errors import UsageError
from .layout import validate_name
from .meta import read_json, write_json
from .objects import ArtifactStore, manifest_digest

STAGING = "staging"


def staging_dir(store: ArtifactStore, entity: str, project: str, name: str,
                distributed_id: str) -> Path:
    return store.name_dir(entity, project, name) / STAGING / validate_name(
        "distributed_id", distributed_id)


def stage(store: ArtifactStore, entity: str, project: str, name: str, distributed_id: str,
          part: dict[str, Any]) -> None:
    """Add one part (type, entries, aliases, producer, ...) to the pending version."""
    folder = staging_dir(store, entity, project, name, distributed_id)
    write_json(folder / f"part-{uuid.uuid4().hex}.json", part)


def finish(store: ArtifactStore, entity: str, project: str, name: str, distributed_id: str,
           last: dict[str, Any] | None) -> tuple[int, bool]:
    """Commit every staged part, plus `last` (the finishing call's own part, may be None), as
    one version; (version, created) as ArtifactStore.commit."""
    folder = staging_dir(store, entity, project, name, distributed_id)
    claimed = folder.with_name(f".finishing-{distributed_id}-{uuid.uuid4().hex}")
    try:
        os.rename(folder, claimed)
    except FileNotFoundError:
        claimed.mkdir(parents=True)
    try:
        parts = [read_json(p) for p in sorted(claimed.glob("part-*.json"))]
        if last is not None:
            parts.append(last)
        manifest = merge(parts, f"{entity}/{project}/{name}", distributed_id)
    except BaseException:
        _give_back(claimed, folder)
        raise
    aliases = sorted({a for part in parts for a in part.get("aliases", [])})
    result = store.commit(entity, project, name, manifest, aliases)
    shutil.rmtree(claimed, ignore_errors=True)
    return result


def merge(parts: list[dict[str, Any]], what: str, distributed_id: str) -> dict[str, Any]:
    """One manifest from the parts; the same path with different contents is refused, since
    no order between processes says which one is meant."""
    if not any(part["entries"] for part in parts):
        raise UsageError(
            f"finish_artifact: nothing was upserted to {what} under distributed_id "
            f"{distributed_id!r}: call upsert_artifact (or pass files to finish_artifact) first"
        )
    types = {p["type"] for p in parts}
    if len(types) > 1:
        raise UsageError(
            f"finish_artifact: the parts of {what} disagree on its type ({sorted(types)}): "
            "upsert every part with the same type"
        )
    entries: dict[str, dict[str, Any]] = {}
    for part in parts:
        for path, entry in part["entries"].items():
            if path in entries and entries[path] != entry:
                raise UsageError(
                    f"finish_artifact: two parts of {what} add different files as {path!r}: "
                    "give each process's files distinct names"
                )
            entries[path] = entry
    metadata: dict[str, Any] = {}
    for part in parts:
        metadata.update(part.get("metadata") or {})
    first = parts[-1]  # the finishing call's description and producer
    return {
        "type": types.pop(), "description": first.get("description"),
        "metadata": metadata, "tags": sorted({t for p in parts for t in p.get("tags", [])}),
        "entries": entries, "digest": manifest_digest(entries),
        "created_at": first["created_at"], "producer": first.get("producer"),
        "distributed_id": distributed_id,
    }


def _give_back(claimed: Path, folder: Path) -> None:
    # A refused finish leaves every part staged, so the user can fix the cause and finish again.
    folder.mkdir(parents=True, exist_ok=True)
    for part in claimed.glob("part-*.json"):
        os.replace(part, folder / part.name)
    shutil.rmtree(claimed, ignore_errors=True)
