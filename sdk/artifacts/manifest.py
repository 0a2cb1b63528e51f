"""An artifact's manifest as wandb's code reads it: `artifact.manifest.entries` maps each path
to an entry with `.path`, `.digest`, `.size`, `.ref`.

An entry is also the dict the manifest stores (`entry["size"]`), so code written against
runlake's earlier dict entries keeps working.
"""

from __future__ import annotations

from typing import Any


class ManifestEntry(dict):
    """One file of an artifact: `path`, `digest` (sha256 hex of the bytes; a reference's
    checksum), `size`, `ref` (the URI of a reference, else None), `local_path` (where an
    added file's bytes are read from until the artifact is logged)."""

    @property
    def path(self) -> str:
        return self["path"]

    @property
    def digest(self) -> str | None:
        return self.get("digest", self.get("checksum"))

    @property
    def size(self) -> int | None:
        return self.get("size")

    @property
    def ref(self) -> str | None:
        return self.get("ref")

    @property
    def local_path(self) -> str | None:
        return self.get("local_path")

    @property
    def skip_cache(self) -> bool:
        return bool(self.get("skip_cache", False))

    @property
    def extra(self) -> dict[str, Any]:
        return dict(self.get("extra") or {})

    @property
    def birth_artifact_id(self) -> str | None:
        return None  # no server ids: an object is named by its digest

    def __repr__(self) -> str:
        return f"ManifestEntry(path={self.path!r}, digest={self.digest!r}, size={self.size!r}" + (
            f", ref={self.ref!r})" if self.ref else ")")


class Manifest:
    """The entries of an artifact (a view: it follows the artifact's changes)."""

    def __init__(self, entries: dict[str, dict[str, Any]],
                 local: dict[str, Any] | None = None, options: dict[str, dict[str, Any]] | None = None) -> None:
        self._entries = entries
        self._local = local if local is not None else {}
        self._options = options if options is not None else {}

    @property
    def entries(self) -> dict[str, ManifestEntry]:
        return {path: self.entry(path) for path in sorted(self._entries)}

    def entry(self, path: str) -> ManifestEntry:
        local = self._local.get(path)
        return ManifestEntry({"path": path, **self._entries[path],
                              **({"local_path": str(local)} if local is not None else {}),
                              **self._options.get(path, {})})

    def get_entry_by_path(self, path: str) -> ManifestEntry | None:
        return self.entry(path) if path in self._entries else None

    def get_entries_in_directory(self, directory: str) -> list[ManifestEntry]:
        prefix = directory.rstrip("/") + "/"
        return [self.entry(p) for p in sorted(self._entries) if p.startswith(prefix)]

    @property
    def size(self) -> int:
        return sum(e.get("size") or 0 for e in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<Manifest of {len(self._entries)} entries>"
