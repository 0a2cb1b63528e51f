"""Reading logged artifacts: the base of `runlake.Artifact` and what `Api().artifact()` returns.

Here, not in the SDK, because query/ never imports the SDK; `runlake.Artifact`
(sdk/artifacts/artifact.py) extends this class with the methods that build a new artifact.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from runlake.errors import (
    ArtifactFinalizedError, ArtifactNotLoggedError, InvalidNameError, InvalidValueError, UsageError,
)
from runlake.engine.layout import default_entity, default_project, validate_name
from runlake.artifacts.manifest import Manifest, ManifestEntry
from runlake.engine.objects import (
    LATEST,
    ArtifactNotFoundError,
    ArtifactStore,
    download,
    validate_entry_path,
    verify,
)


class ArtifactBase:
    """An artifact version: its entries (path -> {digest, size} or {ref, checksum, size}) and
    attributes. Committed ones are read from the store at `_root`."""

    def __init__(self, name: str, type: str, description: str | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        self._name = validate_name("artifact name", name)
        self._type = validate_name("artifact type", type)
        self._description = description
        self._metadata = dict(metadata or {})
        self._entries: dict[str, dict[str, Any]] = {}
        self._version: int | None = None
        self._aliases: list[str] = []
        self._tags: list[str] = []
        self._entity: str | None = None
        self._project: str | None = None
        self._digest: str | None = None
        self._created_at: str | None = None
        self._root: Path | None = None

    @classmethod
    def _from_manifest(cls, root: Path, entity: str, project: str, name: str, version: int,
                       manifest: dict[str, Any], aliases: list[str]) -> ArtifactBase:
        art = ArtifactBase.__new__(cls)
        ArtifactBase.__init__(art, name, manifest["type"], manifest.get("description"),
                              manifest.get("metadata"))
        art._commit(root, entity, project, version, manifest, aliases)
        return art

    def _commit(self, root: Path, entity: str, project: str, version: int,
                manifest: dict[str, Any], aliases: list[str]) -> None:
        self._root, self._entity, self._project, self._version = root, entity, project, version
        self._entries = {p: dict(e) for p, e in manifest["entries"].items()}
        self._digest = manifest["digest"]
        self._created_at = manifest.get("created_at")
        self._tags = list(manifest.get("tags", []))
        self._aliases = sorted(aliases)

    # -- attributes ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name if self._version is None else f"{self._name}:v{self._version}"

    @property
    def type(self) -> str:
        return self._type

    @property
    def version(self) -> str | None:
        return None if self._version is None else f"v{self._version}"

    @property
    def aliases(self) -> list[str]:
        return list(self._aliases)

    @property
    def tags(self) -> list[str]:
        return list(self._tags)

    @property
    def digest(self) -> str | None:
        return self._digest

    @property
    def size(self) -> int:
        return sum(e.get("size") or 0 for e in self._entries.values())

    @property
    def metadata(self) -> dict[str, Any]:
        return self._metadata

    @metadata.setter
    def metadata(self, value: dict[str, Any]) -> None:
        self._check_editable("metadata")
        if not isinstance(value, dict):
            raise InvalidValueError(
                f"artifact {self._name}: metadata must be a dict, got {type(value).__name__}")
        self._metadata = dict(value)

    @property
    def description(self) -> str | None:
        return self._description

    @description.setter
    def description(self, value: str | None) -> None:
        self._check_editable("description")
        if value is not None and not isinstance(value, str):
            raise InvalidValueError(
                f"artifact {self._name}: description must be a str or None, got "
                f"{type(value).__name__}")
        self._description = value

    def _check_editable(self, what: str) -> None:
        if self._version is not None:
            raise ArtifactFinalizedError(
                f"artifact {self.name} is logged: its {what} cannot change (a logged version "
                "never does); set it before run.log_artifact()")

    @property
    def state(self) -> str:
        return "PENDING" if self._version is None else "COMMITTED"

    @property
    def created_at(self) -> str | None:
        return self._created_at

    @property
    def source_name(self) -> str:
        return self.name

    @property
    def qualified_name(self) -> str:
        return f"{self._entity}/{self._project}/{self.name}"

    # -- reading ------------------------------------------------------------------------------
    def files(self) -> list[str]:
        """The entries' paths inside the artifact."""
        return sorted(self._entries)

    @property
    def manifest(self) -> Manifest:
        """The entries as wandb reads them: `manifest.entries[path].digest`, ..."""
        return Manifest(self._entries, getattr(self, "_sources", None),
                        getattr(self, "_options", None))

    def get_entry(self, name: str) -> ManifestEntry:
        path = validate_entry_path(name)
        if path not in self._entries:
            raise KeyError(f"artifact {self.name} has no entry {name!r}")
        return self.manifest.entry(path)

    def wait(self, timeout: float | None = None) -> ArtifactBase:
        """The artifact once logged. `log_artifact()` commits before it returns, so a logged
        artifact is ready at once (wandb's offline mode cannot wait at all)."""
        if self._version is None:
            raise ArtifactNotLoggedError(
                f"artifact {self._name}: wait() before run.log_artifact(); log it first")
        return self

    def _store(self) -> ArtifactStore:
        if self._root is None:
            raise ArtifactNotLoggedError(
                f"artifact {self._name} is not logged yet: call run.log_artifact() first")
        return ArtifactStore(self._root)

    def _default_root(self) -> Path:
        return Path(os.getcwd()) / "artifacts" / f"{self._name}:{self.version}"

    def download(self, root: str | os.PathLike[str] | None = None) -> str:
        """Write the files under `root` (default ./artifacts/<name>:<version>); returns it."""
        store = self._store()
        dest = Path(root) if root is not None else self._default_root()
        return str(download(store.objects, self._entries, dest))

    def file(self, root: str | os.PathLike[str] | None = None) -> str:
        """The downloaded path of a single-file artifact."""
        if len(self._entries) != 1:
            raise UsageError(
                f"artifact {self.name} has {len(self._entries)} files; file() needs exactly one: "
                "use download()"
            )
        return str(Path(self.download(root)) / next(iter(self._entries)))

    def verify(self, root: str | os.PathLike[str] | None = None) -> None:
        """Raise unless `root` (default the download folder) holds exactly this artifact."""
        self._store()
        verify(self._entries, Path(root) if root is not None else self._default_root())

    def __repr__(self) -> str:
        return f"<Artifact {self.qualified_name if self._version is not None else self._name}>"


def parse_artifact_path(path: str, entity: str | None = None,
                        project: str | None = None) -> tuple[str, str, str, str]:
    """(entity, project, name, version-or-alias) of `[[entity/]project/]name[:alias]`."""
    if not isinstance(path, str) or not path:
        raise InvalidNameError(f"artifact path must be a non-empty string, got {path!r}")
    head, _, ref = path.partition(":")
    parts = head.split("/")
    if len(parts) > 3:
        raise InvalidNameError(
            f"invalid artifact path {path!r}: use name:alias, project/name:alias or "
            "entity/project/name:alias"
        )
    name = parts[-1]
    project = parts[-2] if len(parts) >= 2 else project or default_project()
    entity = parts[-3] if len(parts) == 3 else entity or default_entity()
    ref = ref or LATEST
    for kind, value in (("entity", entity), ("project", project), ("artifact name", name),
                        ("artifact version or alias", ref)):
        validate_name(kind, value)
    return entity, project, name, ref


def load_artifact(root: Path, entity: str, project: str, name: str, ref: str,
                  cls: type[ArtifactBase] = ArtifactBase) -> ArtifactBase:
    store = ArtifactStore(root)
    version = store.resolve(entity, project, name, ref)
    manifest = store.manifest(entity, project, name, version)
    aliases = [a for a, v in store.aliases(entity, project, name).items() if v == version]
    return cls._from_manifest(root, entity, project, name, version, manifest, aliases)


def logged_by(root: Path, entity: str, project: str, run_id: str) -> list[ArtifactBase]:
    """The versions the run produced (its project's manifests naming it as producer)."""
    store = ArtifactStore(root)
    producer = {"entity": entity, "project": project, "run_id": run_id}
    found = []
    for name in store.names(entity, project):
        for v in store.versions(entity, project, name):
            if store.manifest(entity, project, name, v).get("producer") == producer:
                found.append(load_artifact(root, entity, project, name, f"v{v}"))
    return found


def used_by(root: Path, entity: str, project: str, run_id: str) -> list[ArtifactBase]:
    """The versions the run declared as inputs, in any project of the store."""
    edge = f"used/v*/entity={entity}/project={project}/run_id={run_id}.json"
    found = []
    for path in sorted((Path(root) / "artifacts").glob(f"entity=*/project=*/name=*/{edge}")):
        name_dir = path.parents[4]
        e, p, n = (part.split("=", 1)[1] for part in name_dir.parts[-3:])
        found.append(load_artifact(root, e, p, n, path.parents[2].name))
    return found


__all__ = ["ArtifactBase", "ArtifactNotFoundError", "load_artifact", "parse_artifact_path"]
