"""`runlake.Artifact`: build a new artifact version (files, folders, references), then log it
with `run.log_artifact()`. Reading is inherited from sdk/artifacts/base.py.

Added files are hashed when added, as in wandb; by default (`policy="mutable"`) they are also
copied then into a private temporary folder, so the version holds the bytes the file had at
`add_file()`; `policy="immutable"` reads the file again when logged. `new_file()` content
lives in that folder too.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlparse

from runlake.errors import ArtifactFinalizedError, InvalidValueError, UsageError
from runlake.engine import staging
from runlake.engine.remote import s3_etag
from runlake.engine.times import iso
from runlake.engine.objects import (
    ArtifactStore,
    hash_file,
    manifest_digest,
    validate_entry_path,
)
from runlake.artifacts.base import ArtifactBase
from runlake.artifacts.manifest import ManifestEntry


_POLICIES = ("mutable", "immutable")


def _policy(policy: str | None) -> str:
    policy = policy or "mutable"
    if policy not in _POLICIES:
        raise InvalidValueError(
            f"policy {policy!r} is not one of 'mutable' (copy the file now) or 'immutable' "
            "(read it when the artifact is logged)")
    return policy


class Artifact(ArtifactBase):
    """A versioned set of files (wandb's `wandb.Artifact`).

    >>> art = Artifact("mnist", type="dataset")
    >>> art.state
    'PENDING'

    References are never copied: `file://` URIs are hashed (sha256 of the bytes); `s3://`
    objects are recorded with their ETag and size when an anonymous HEAD request can read them
    (the AWS_ENDPOINT_URL(_S3) variables name an S3-compatible server), else by URI alone;
    other schemes by URI alone (boto3 is not a dependency).
    """

    def __init__(self, name: str, type: str, description: str | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        super().__init__(name, type, description, metadata)
        self._sources: dict[str, Path] = {}  # entry path -> local file to store at log time
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._upserted: str | None = None  # the distributed_id this artifact's files went to
        self._options: dict[str, dict[str, Any]] = {}  # entry path -> skip_cache

    def _check_pending(self) -> None:
        if self._upserted is not None:
            raise ArtifactFinalizedError(
                f"artifact {self.name}'s files were upserted (distributed_id "
                f"{self._upserted!r}): make a new runlake.Artifact for more files"
            )
        if self._version is not None:
            raise ArtifactFinalizedError(
                f"artifact {self.name} is logged and cannot change: make a new runlake.Artifact"
            )

    def add_file(self, local_path: str | os.PathLike[str], name: str | None = None,
                 is_tmp: bool | None = False, skip_cache: bool | None = False,
                 policy: str | None = "mutable", overwrite: bool = False) -> ManifestEntry:
        """Add one file, as `name` (default its file name) inside the artifact; its entry.

        `policy="mutable"` (the default) copies the file now, so changing it afterwards
        changes nothing; `"immutable"` reads it when the artifact is logged. `is_tmp` names
        the entry by the first 20 hex digits of its digest (keeping the extension). Adding
        other bytes under a path already added needs `overwrite=True`. `skip_cache` is kept
        on the entry (runlake has no cache to skip).
        """
        self._check_pending()
        policy = _policy(policy)
        src = Path(local_path)
        if not src.is_file():
            raise InvalidValueError(f"add_file: {src} is not a file")
        source = src.absolute()
        if policy == "mutable":
            copy = self._tmp_path(f"{src.name}\0{len(self._sources)}\0{id(self)}")
            digest, size = hash_file(source, copy_to=copy)
            source = copy
        else:
            digest, size = hash_file(source)
        path = name if name is not None else src.name
        if is_tmp:
            folder, _, file_name = str(path).replace(os.sep, "/").rpartition("/")
            parts = file_name.split(".")
            parts[0] = digest[:20]
            path = (folder + "/" if folder else "") + ".".join(parts)
        path = validate_entry_path(path)
        old = self._entries.get(path)
        if old is not None and not overwrite and old.get("digest") != digest:
            raise InvalidValueError(
                f"add_file: artifact {self._name} already has other bytes at {path!r}; pass "
                "overwrite=True to replace them, or add the file under another name")
        self._sources[path] = source
        self._entries[path] = {"digest": digest, "size": size}
        self._options[path] = {"skip_cache": bool(skip_cache)}
        return self.get_entry(path)

    def add_dir(self, local_path: str | os.PathLike[str], name: str | None = None,
                skip_cache: bool | None = False, policy: str | None = "mutable",
                merge: bool = False, *, follow_symlinks: bool = True) -> None:
        """Add every file under a folder, under the prefix `name` (default the top level).

        A file already added with other bytes is refused unless `merge=True` (wandb's rule);
        `skip_cache` and `policy` are as in `add_file`. A symlinked file is stored as the
        contents of its target, as wandb does (a Hugging Face cache links its snapshots to
        blobs outside the folder); links whose target lies outside the folder are named in a
        warning. `follow_symlinks=False` is the safe choice for a folder that others can write
        to: links leading outside it are left out. Symlinked folders are not descended into.
        """
        self._check_pending()
        policy = _policy(policy)
        src = Path(local_path)
        if not src.is_dir():
            raise InvalidValueError(f"add_dir: {src} is not a directory")
        prefix = validate_entry_path(name) + "/" if name else ""
        top = src.resolve()
        outside: list[Path] = []
        for path in sorted(src.rglob("*")):
            if not path.is_file():
                continue
            if path.is_symlink() and not path.resolve().is_relative_to(top):
                outside.append(path)
                if not follow_symlinks:
                    continue
            self.add_file(path, prefix + path.relative_to(src).as_posix(), skip_cache=skip_cache,
                          policy=policy, overwrite=merge)
        if outside:
            first = outside[0]
            what = ("stored as their targets' contents; pass follow_symlinks=False to leave "
                    "them out" if follow_symlinks else "left out (follow_symlinks=False)")
            warnings.warn(
                f"runlake: add_dir({str(src)!r}): {len(outside)} file(s) are symlinks to files "
                f"outside the folder (first: {first.relative_to(src).as_posix()} -> "
                f"{first.resolve()}); {what}", UserWarning, stacklevel=2,
            )

    def _tmp_path(self, name: str) -> Path:
        """A fresh path in this artifact's private temporary folder."""
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="runlake-artifact-")
        return Path(self._tmp.name) / hashlib.sha256(name.encode()).hexdigest()

    @contextmanager
    def new_file(self, name: str, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
        """Open a new file inside the artifact for writing."""
        self._check_pending()
        path = validate_entry_path(name)
        local = self._tmp_path(path)
        with open(local, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
        self.add_file(local, path, policy="immutable", overwrite=True)  # already a private copy

    def add_reference(self, uri: str, name: str | None = None) -> list[dict[str, Any]]:
        """Record a URI without copying it: file:// with its sha256 and size (a folder adds
        each file under it), s3:// with its ETag and size when readable, others by URI."""
        self._check_pending()
        parsed = urlparse(uri)
        if parsed.scheme != "file":
            path = validate_entry_path(name or parsed.path.rsplit("/", 1)[-1] or parsed.netloc)
            checksum = size = None
            if parsed.scheme == "s3":
                # The ETag makes the version digest follow the remote object's contents.
                checksum, size, _ = s3_etag(uri)
            self._entries[path] = {"ref": uri, "checksum": checksum, "size": size}
            self._sources.pop(path, None)
            return [self.get_entry(path)]
        local = Path(unquote(parsed.path))
        if local.is_dir():
            prefix = validate_entry_path(name) + "/" if name else ""
            files = sorted(p for p in local.rglob("*") if p.is_file())
            pairs = [(p, prefix + p.relative_to(local).as_posix()) for p in files]
        elif local.is_file():
            pairs = [(local, name or local.name)]
        else:
            raise InvalidValueError(f"add_reference: {uri} names no file or folder")
        added = []
        for p, entry_name in pairs:
            path = validate_entry_path(entry_name)
            digest, size = hash_file(p)
            self._entries[path] = {"ref": p.absolute().as_uri(), "checksum": digest, "size": size}
            self._sources.pop(path, None)
            added.append(self.get_entry(path))
        return added

    def remove(self, item: str) -> None:
        """Take an entry (or every entry under a folder path) out of the artifact."""
        self._check_pending()
        path = validate_entry_path(item)
        gone = [p for p in self._entries if p == path or p.startswith(path + "/")]
        if not gone:
            raise KeyError(f"artifact {self._name} has no entry {item!r}")
        for p in gone:
            self._entries.pop(p)
            self._sources.pop(p, None)

    # -- logging (called by sdk/tracking/artifacts.py) -------------------------------------------
    def _store_objects(self, store: ArtifactStore) -> dict[str, dict[str, Any]]:
        """Put every added file's bytes in the object store; the manifest's entries."""
        self._check_pending()
        if not self._entries:
            raise UsageError(f"artifact {self._name} is empty: add a file before logging it")
        entries = {}
        for path, entry in self._entries.items():
            if path in self._sources:
                digest, size = store.objects.put_file(self._sources[path])
                entries[path] = {"digest": digest, "size": size}
            else:
                entries[path] = dict(entry)
        return entries

    def _body(self, entries: dict[str, dict[str, Any]], tags: list[str],
              producer: dict[str, str]) -> dict[str, Any]:
        return {
            "type": self._type, "description": self._description, "metadata": self._metadata,
            "tags": sorted(set(tags)), "entries": entries, "digest": manifest_digest(entries),
            "created_at": iso(),
            "producer": producer,
        }

    def _save(self, root: Path, entity: str, project: str, aliases: list[str], tags: list[str],
              producer: dict[str, str]) -> None:
        store = ArtifactStore(root)
        manifest = self._body(self._store_objects(store), tags, producer)
        version, _ = store.commit(entity, project, self._name, manifest, aliases)
        self._committed(store, entity, project, version)

    def _stage(self, root: Path, entity: str, project: str, distributed_id: str,
               aliases: list[str], tags: list[str], producer: dict[str, str]) -> None:
        """Add this artifact's files to the pending distributed version (upsert_artifact)."""
        store = ArtifactStore(root)
        part = {**self._body(self._store_objects(store), tags, producer), "aliases": aliases}
        staging.stage(store, entity, project, self._name, distributed_id, part)
        self._upserted = distributed_id
        self._root, self._entity, self._project = root, entity, project
        self._release()

    def _finish(self, root: Path, entity: str, project: str, distributed_id: str,
                aliases: list[str], tags: list[str], producer: dict[str, str]) -> None:
        """Commit the distributed version: every staged part plus this artifact's own files."""
        store = ArtifactStore(root)
        own = self._store_objects(store) if self._upserted is None and self._entries else {}
        last = {**self._body(own, tags, producer), "aliases": aliases}
        version, _ = staging.finish(store, entity, project, self._name, distributed_id, last)
        self._upserted = None
        self._committed(store, entity, project, version)

    def _committed(self, store: ArtifactStore, entity: str, project: str, version: int) -> None:
        # An identical earlier version is returned as it was stored (its producer, time, tags).
        manifest = store.manifest(entity, project, self._name, version)
        current = [a for a, v in store.aliases(entity, project, self._name).items() if v == version]
        self._commit(store.root, entity, project, version, manifest, current)
        self._release()

    def _release(self) -> None:
        self._sources.clear()
        self._options.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
