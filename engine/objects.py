"""Artifacts on disk: a content-addressed object store, and one manifest per version.

    <root>/artifacts/objects/<aa>/<sha256>                                   file contents
    <root>/artifacts/entity=<e>/project=<p>/name=<name>/v<N>.json            version manifest
    <root>/artifacts/entity=<e>/project=<p>/name=<name>/aliases.json         user aliases
    <root>/artifacts/entity=<e>/project=<p>/name=<name>/used/v<N>/entity=<e>/project=<p>/run_id=<id>.json
                                                                             consumer runs

docs/FORMAT.md ("Artifacts") is the contract. This module knows nothing of the Run API: it
stores bytes, manifests, aliases and lineage edges.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from runlake.errors import (
    ArtifactNotFoundError, CorruptObjectError, Error, FormatVersionError, InvalidNameError,
)
from . import atomic
from .files import copy_whole
from .layout import FORMAT_VERSION, validate_name
from .times import iso
from .meta import check_version, read_json, read_versioned, warn_skipped, write_json

LATEST = "latest"
_HEX = re.compile(r"[0-9a-f]{64}")
_VERSION = re.compile(r"v(0|[1-9][0-9]*)")
_CHUNK = 1 << 20


def validate_entry_path(path: object) -> str:
    """An entry's path inside an artifact, normalised to POSIX form, if it cannot escape the
    folder it is downloaded into; else InvalidNameError."""
    if not isinstance(path, str) or not path:
        raise InvalidNameError(f"artifact entry path must be a non-empty string, got {path!r}")
    text = path.replace("\\", "/")
    pure = PurePosixPath(text)
    if "\0" in text or pure.is_absolute() or re.match(r"[A-Za-z]:", text):
        raise InvalidNameError(f"artifact entry path {path!r} must be relative and without NUL")
    parts = [p for p in pure.parts if p != "."]
    if not parts or ".." in parts:
        raise InvalidNameError(
            f"artifact entry path {path!r} must not contain '..': name a file inside the artifact"
        )
    return "/".join(parts)


def hash_file(path: Path, copy_to: Path | None = None) -> tuple[str, int]:
    """(sha256 hex digest, size) of a file's bytes, also written to `copy_to` if given (one
    read for both). One reused buffer: no allocation per chunk."""
    h = hashlib.sha256()
    size = 0
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f, \
            (open(copy_to, "wb") if copy_to else _NoFile()) as out:  # buffered: writes all
        while n := f.readinto(buf):
            h.update(view[:n])
            out.write(view[:n])
            size += n
    return h.hexdigest(), size


class _NoFile:
    def __enter__(self) -> _NoFile:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def write(self, _: object) -> None:
        return None


class ObjectStore:
    """File contents named by their sha256; an object, once written, never changes."""

    def __init__(self, root: Path) -> None:
        self.dir = Path(root) / "artifacts" / "objects"
        # Adaptive: after storing a new object, copy the next file while hashing it (one
        # read); after finding one stored, hash first and skip the copy. A first log is
        # mostly new files, a re-log mostly known ones.
        self._expect_new = False

    def path(self, digest: str) -> Path:
        if not isinstance(digest, str) or not _HEX.fullmatch(digest):
            raise InvalidNameError(f"invalid object digest {digest!r}: expected 64 hex digits")
        return self.dir / digest[:2] / digest

    def has(self, digest: str) -> bool:
        return self.path(digest).exists()

    def put_file(self, src: Path) -> tuple[str, int]:
        """Store a file's bytes; (digest, size). Bytes already stored are not written again."""
        if self._expect_new:
            return self._copy_in(Path(src))
        digest, size = hash_file(Path(src))
        target = self.path(digest)
        self._expect_new = not self._reuse(target)
        if self._expect_new:
            self._install(target, lambda tmp: _copy_checked(Path(src), tmp, digest))
        return digest, size

    def _copy_in(self, src: Path) -> tuple[str, int]:
        # Copy to a temporary name while hashing, then rename to the digest (or drop the
        # copy if that object exists): the file is read once.
        (self.dir / "tmp").mkdir(parents=True, exist_ok=True)  # where gc looks for leftovers
        tmp = atomic.tmp_name(Path("object"), self.dir / "tmp")
        try:
            digest, size = hash_file(src, copy_to=tmp)
            target = self.path(digest)
            self._expect_new = not self._reuse(target)
            if self._expect_new:
                target.parent.mkdir(exist_ok=True)
                atomic.publish(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return digest, size

    @staticmethod
    def _reuse(target: Path) -> bool:
        # Touch a reused object: `gc` spares recent objects, so one a concurrent log is about
        # to reference (not yet in a manifest) is never collected under it.
        try:
            os.utime(target)
            return True
        except FileNotFoundError:
            return False

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not self._reuse(target):
            self._install(target, lambda tmp: tmp.write_bytes(data))
        return digest, len(data)

    @staticmethod
    def _install(target: Path, fill: Any) -> None:
        # Temp file then rename: a reader never sees a partial object, and two writers of the
        # same bytes both succeed (the second rename replaces identical content).
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic.replacing(target) as tmp:
            fill(tmp)


def _copy_checked(src: Path, dest: Path, digest: str) -> None:
    # Hash while copying: a file changed since it was hashed is refused, never stored under
    # a name that is not its content's.
    if hash_file(src, copy_to=dest)[0] != digest:
        raise CorruptObjectError(f"{src} changed while it was being added; add it again")


def manifest_digest(entries: dict[str, dict[str, Any]]) -> str:
    """The version digest: a hash of the sorted (path, digest or uri/checksum) of every entry,
    so the same contents give the same digest whatever order they were added in."""
    h = hashlib.sha256()
    for path in sorted(entries):
        e = entries[path]
        key = e.get("digest") or f"{e.get('ref')}#{e.get('checksum')}"
        h.update(json.dumps([path, key]).encode("utf-8"))
    return h.hexdigest()


class ArtifactStore:
    """Manifests, aliases and lineage of the artifacts of one store root."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.objects = ObjectStore(self.root)

    def name_dir(self, entity: str, project: str, name: str) -> Path:
        return self.root.joinpath(
            "artifacts",
            f"entity={validate_name('entity', entity)}",
            f"project={validate_name('project', project)}",
            f"name={validate_name('artifact name', name)}",
        )

    def versions(self, entity: str, project: str, name: str) -> list[int]:
        folder = self.name_dir(entity, project, name)
        if not folder.is_dir():
            return []
        found = []
        for p in folder.iterdir():
            if p.suffix == ".json" and _VERSION.fullmatch(p.stem):
                found.append(int(p.stem[1:]))
        return sorted(found)

    def names(self, entity: str, project: str) -> list[str]:
        folder = self.name_dir(entity, project, "x").parent
        if not folder.is_dir():
            return []
        return sorted(p.name[5:] for p in folder.iterdir() if p.name.startswith("name="))

    def manifest(self, entity: str, project: str, name: str, version: int) -> dict[str, Any]:
        path = self.name_dir(entity, project, name) / f"v{version}.json"
        try:
            return read_versioned(path)
        except FileNotFoundError:
            raise ArtifactNotFoundError(
                f"artifact {entity}/{project}/{name}:v{version} does not exist"
            ) from None

    def commit(self, entity: str, project: str, name: str, manifest: dict[str, Any],
               aliases: list[str] = ()) -> tuple[int, bool]:
        """Store a version's manifest; (version, created). A version with the same digest is
        returned instead of a new one. Then the aliases are moved onto the version."""
        folder = self.name_dir(entity, project, name)
        folder.mkdir(parents=True, exist_ok=True)
        digest = manifest["digest"]
        existing = self.find_digest(entity, project, name, digest)
        if existing is not None:
            self.set_aliases(entity, project, name, existing, aliases)
            return existing, False
        body = {"format_version": FORMAT_VERSION, **manifest}
        tmp = folder / f".tmp-{uuid.uuid4().hex}.json"
        write_json(tmp, body)
        try:
            n = len(self.versions(entity, project, name))
            while True:
                # link() fails if the name exists: two processes can never take the same
                # version, and the manifest appears whole.
                try:
                    os.link(tmp, folder / f"v{n}.json")
                    break
                except FileExistsError:
                    n += 1
        finally:
            tmp.unlink(missing_ok=True)
        _put_once(self._digests(entity, project, name) / digest, str(n))
        self.set_aliases(entity, project, name, n, aliases)
        return n, True

    def find_digest(self, entity: str, project: str, name: str, digest: str) -> int | None:
        """The version whose manifest has `digest`, through the digest index (one file per
        digest, so dedup does not read every earlier manifest); None if there is none."""
        if not _HEX.fullmatch(digest) or not self.name_dir(entity, project, name).is_dir():
            return None
        try:
            version = int((self._digests(entity, project, name) / digest).read_text())
        except (FileNotFoundError, ValueError):
            return None
        return version

    def _digests(self, entity: str, project: str, name: str) -> Path:
        """The name's digest index (digests/<digest> holds the version number), built from
        the manifests the first time it is needed (a store written before it existed)."""
        folder = self.name_dir(entity, project, name)
        index = folder / "digests"
        if not index.is_dir():
            tmp = folder / f".tmp-digests-{uuid.uuid4().hex}"
            tmp.mkdir(parents=True)
            for v in self.versions(entity, project, name):
                _put_once(tmp / self.manifest(entity, project, name, v)["digest"], str(v))
            try:
                os.rename(tmp, index)
            except OSError:  # another process built it first
                shutil.rmtree(tmp, ignore_errors=True)
        return index

    @contextmanager
    def _locked(self, folder: Path) -> Iterator[None]:
        # flock (not lockf): it belongs to this open file, so closing it is the only release.
        with open(folder / "aliases.lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def aliases(self, entity: str, project: str, name: str) -> dict[str, int]:
        """alias -> version, `latest` included (always the newest version)."""
        path = self.name_dir(entity, project, name) / "aliases.json"
        found = read_json(path) if path.exists() else {}
        versions = self.versions(entity, project, name)
        if versions:
            found[LATEST] = versions[-1]
        return found

    def set_aliases(self, entity: str, project: str, name: str, version: int,
                    aliases: list[str]) -> None:
        """Point each alias at `version`, taking it off any other (read-modify-write under a
        lock, so concurrent loggers lose no alias). `latest` is derived, never stored."""
        wanted = [validate_alias(a) for a in aliases if a != LATEST]
        if not wanted:
            return
        folder = self.name_dir(entity, project, name)
        with self._locked(folder):
            path = folder / "aliases.json"
            current = read_json(path) if path.exists() else {}
            current.update({a: version for a in wanted})
            write_json(path, current)

    def resolve(self, entity: str, project: str, name: str, ref: str) -> int:
        """The version `ref` ("v3", an alias, or a version's digest) names."""
        if _HEX.fullmatch(ref):
            version = self.find_digest(entity, project, name, ref)
            if version is not None:
                return version
            raise ArtifactNotFoundError(
                f"artifact {entity}/{project}/{name} has no version with digest {ref}"
            )
        if _VERSION.fullmatch(ref):
            version = int(ref[1:])
            if version not in self.versions(entity, project, name):
                raise ArtifactNotFoundError(f"artifact {entity}/{project}/{name}:{ref} does not exist")
            return version
        found = self.aliases(entity, project, name).get(ref)
        if found is None:
            raise ArtifactNotFoundError(
                f"artifact {entity}/{project}/{name} has no version with alias {ref!r}"
            )
        return found

    def link(self, source: tuple[str, str, str, int], target: tuple[str, str, str],
             aliases: list[str]) -> tuple[int, bool]:
        """Link a version into a portfolio (a collection of promoted versions, such as a
        registered model): a version of the portfolio whose manifest names the same objects
        (nothing is copied) and `linked_from`. Linking contents the portfolio already holds
        returns that version, with `aliases` moved onto it."""
        e, p, n, v = source
        manifest = self.manifest(e, p, n, v)
        keep = ("type", "description", "metadata", "tags", "entries", "digest", "producer")
        body = {k: manifest.get(k) for k in keep}
        body["created_at"] = iso()
        body["linked_from"] = {"entity": e, "project": p, "name": n, "version": f"v{v}"}
        return self.commit(*target, body, aliases)

    def add_consumer(self, entity: str, project: str, name: str, version: int,
                     run: tuple[str, str, str], use_as: str | None = None) -> None:
        """Record that run (entity, project, run_id) used the version: one file per edge, so
        consumers in several processes never contend."""
        re_, rp, rid = (validate_name(k, v) for k, v in zip(("entity", "project", "run id"), run))
        path = self.name_dir(entity, project, name).joinpath(
            "used", f"v{version}", f"entity={re_}", f"project={rp}", f"run_id={rid}.json"
        )
        write_json(path, {"entity": re_, "project": rp, "run_id": rid, "used_at": time.time(),
                          "use_as": use_as})

    def consumers(self, entity: str, project: str, name: str, version: int) -> list[dict[str, Any]]:
        folder = self.name_dir(entity, project, name) / "used" / f"v{version}"
        return [read_json(p) for p in sorted(folder.glob("entity=*/project=*/run_id=*.json"))]


def _put_once(path: Path, text: str) -> None:
    """Create `path` holding `text`, whole, unless it exists (the first writer wins)."""
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}")
    tmp.write_text(text)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def validate_alias(alias: object) -> str:
    name = validate_name("artifact alias", alias)
    if _VERSION.fullmatch(name) or _HEX.fullmatch(name):
        raise InvalidNameError(
            f"alias {name!r} looks like a version or a digest; pick another alias"
        )
    return name


def download(objects: ObjectStore, entries: dict[str, dict[str, Any]], dest: Path) -> Path:
    """Write every entry under `dest`; an entry whose path would land outside `dest` (a
    tampered manifest) is refused before anything is written."""
    dest = Path(dest).absolute()
    base = dest.resolve()
    plan = []
    for path, entry in sorted(entries.items()):
        target = (dest / validate_entry_path(path))
        if not target.resolve().is_relative_to(base):
            raise InvalidNameError(f"artifact entry {path!r} would be written outside {dest}")
        plan.append((target, entry))
    for target, entry in plan:
        target.parent.mkdir(parents=True, exist_ok=True)
        if entry.get("digest"):
            source = objects.path(entry["digest"])
        else:
            source = reference_path(entry["ref"])
        copy_whole(source, target)
    return dest


def reference_path(uri: str) -> Path:
    """The local file a file:// reference names; other schemes cannot be fetched locally."""
    if not uri.startswith("file://"):
        raise Error(f"cannot fetch reference {uri!r}: only file:// references are local")
    return Path(uri[len("file://"):])


def verify(entries: dict[str, dict[str, Any]], folder: Path) -> None:
    """Raise CorruptObjectError unless `folder` holds exactly the entries' bytes."""
    folder = Path(folder)
    for path, entry in sorted(entries.items()):
        target = folder / validate_entry_path(path)
        if not target.is_file():
            raise CorruptObjectError(f"{target} is missing: download the artifact again")
        expected = entry.get("digest") or entry.get("checksum")
        if expected and hash_file(target)[0] != expected:
            raise CorruptObjectError(f"{target} does not match the artifact's digest for {path!r}")
    wanted = {validate_entry_path(p) for p in entries}
    for p in folder.rglob("*"):
        if p.is_file() and p.relative_to(folder).as_posix() not in wanted:
            raise CorruptObjectError(f"{p} is not part of the artifact")


def lineage_edges(root: Path) -> list[dict[str, Any]]:
    """Every producer and consumer edge of the store's artifacts, one dict per edge."""
    store = ArtifactStore(root)
    edges = []
    base = Path(root) / "artifacts"
    for name_dir in sorted(base.glob("entity=*/project=*/name=*")):
        e, p, n = (part.split("=", 1)[1] for part in name_dir.parts[-3:])
        for v in store.versions(e, p, n):
            try:
                manifest = store.manifest(e, p, n, v)
            except FormatVersionError as err:  # one newer manifest must not hide the rest
                warn_skipped(err, f"artifact {e}/{p}/{n}:v{v}")
                continue
            art = {"artifact_entity": e, "artifact_project": p, "artifact_name": n,
                   "version": f"v{v}", "type": manifest.get("type"), "digest": manifest.get("digest")}
            runs = [("producer", manifest.get("producer") or {})]
            runs += [("consumer", c) for c in store.consumers(e, p, n, v)]
            for role, run in runs:
                if run.get("run_id"):
                    edges.append({**art, "role": role, "run_entity": run.get("entity"),
                                  "run_project": run.get("project"), "run_id": run.get("run_id"),
                                  "use_as": run.get("use_as") if role == "consumer" else None})
    return edges


def gc(root: Path, grace_seconds: float = 3600.0) -> tuple[int, int]:
    """Delete objects no manifest references, and abandoned temporary files, that are older
    than `grace_seconds` (a log in progress stores objects before its manifest exists);
    returns (files removed, bytes freed)."""
    base = Path(root) / "artifacts"
    referenced = set()
    # Staged parts of distributed versions (engine/staging.py) reference objects too. Parts
    # are listed first: one committed meanwhile has its version manifest by the time those
    # are listed.
    manifests = list(base.glob("entity=*/project=*/name=*/staging/*/part-*.json"))
    manifests += [m for m in base.glob("entity=*/project=*/name=*/v*.json")
                  if _VERSION.fullmatch(m.stem)]
    for manifest in manifests:
        try:  # a newer manifest may name objects we cannot see: refuse (raise), never guess
            entries = check_version(read_json(manifest), manifest)["entries"]
        except FileNotFoundError:  # a part committed meanwhile: its manifest is counted
            continue
        referenced.update(e["digest"] for e in entries.values() if e.get("digest"))
    cutoff = time.time() - grace_seconds
    removed = freed = 0
    for path in (base / "objects").glob("*/*"):
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        if path.name in referenced or st.st_mtime > cutoff:
            continue
        if _HEX.fullmatch(path.name) or path.name.startswith(".tmp-"):
            path.unlink(missing_ok=True)
            removed += 1
            freed += st.st_size
    return removed, freed
