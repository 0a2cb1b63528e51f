"""The store-wide family of each history key: which family the bare column `key` holds.

Within a run, the first family logged under a key takes the bare column and others go to
`key@family` (engine/convert.RunSchema). Across runs that rule alone lets `lr` be a float in
one run and a list in another, and then no engine can read the store as one table (DuckDB's
`union_by_name` fails on a scalar beside a list or a struct). So the first run *of the store*
to log a key claims the bare name for its family: a line `{"key": ..., "family": ...}` in
`<root>/keys/claims.jsonl`, appended under an exclusive flock; the first line of a key wins,
and keys that differ only in case share it (SQL engines read `A` and `a` as one column). A
later run whose first value of the key is of another family stores it in `key@family` from
the start (docs/FORMAT.md, "Keys").

Only the writer thread asks, for the keys new to its run, all of a conversion's at once (one
lock, one read of what others appended since, one write), and then from a per-process cache,
so `log()` does no I/O. Best effort: a store this process cannot write keeps the run's own rule.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path

_lock = threading.Lock()
# Per store root: the family of each key's bare column, and how far claims.jsonl was read.
_known: dict[str, dict[str, str]] = {}
_read_to: dict[str, int] = {}


def claims_file(root: Path) -> Path:
    return root / "keys" / "claims.jsonl"


class KeyFamilies:
    """The families of a store's bare columns; `claim` takes the unclaimed ones."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._where = str(self.root.resolve())
        self._families = _known.setdefault(self._where, {})

    def owner(self, key: str, family: str) -> str:
        """The family of the bare column `key`, claimed for `family` if no run has yet."""
        found = self._families.get(key.lower())
        if found is None:
            self.claim({key: family})
            found = self._families.get(key.lower(), family)
        return found

    def claim(self, wanted: Mapping[str, str]) -> None:
        """Claim each key of `wanted` (key -> family) that no run of the store has."""
        if all(key.lower() in self._families for key in wanted):
            return
        with _lock:  # one thread of this process at a time: the flock is per open file
            try:
                self._claim(wanted)
            except (OSError, ValueError):
                pass  # a read-only or full store: each run keeps its own rule

    def _claim(self, wanted: Mapping[str, str]) -> None:
        path = claims_file(self.root)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            start = _read_to.get(self._where, 0)
            data = os.pread(fd, size - start, start) if size > start else b""
            whole = data.rpartition(b"\n")[0]  # a torn last line (a killed writer) is not read
            for line in whole.split(b"\n") if whole else ():
                try:
                    claim = json.loads(line)
                    self._families.setdefault(str(claim["key"]).lower(), str(claim["family"]))
                except (ValueError, KeyError, TypeError):
                    continue  # a damaged line claims nothing
            _read_to[self._where] = start + len(whole) + (1 if whole else 0)
            new: dict[str, str] = {}
            for k, f in wanted.items():
                if k.lower() not in self._families:
                    new.setdefault(k.lower(), f)
            if not new:
                return
            lines = "".join(json.dumps({"key": k, "family": f}, ensure_ascii=False) + "\n"
                            for k, f in new.items()).encode("utf-8", "surrogatepass")
            if size and not data.endswith(b"\n") and size > start:
                lines = b"\n" + lines  # end a torn line first, so this claim reads whole
            os.write(fd, lines)
            self._families.update(new)  # keyed by the lower-cased key, as written
            _read_to[self._where] = size + len(lines)  # under the lock: nothing came between
        finally:
            os.close(fd)


def claimed(root: Path) -> dict[str, str]:
    """The family of each claimed key (lower-cased) as the store's claims.jsonl says, for
    readers: no lock (a line is appended whole or ends torn, and a torn one claims nothing);
    {} for a store without one."""
    try:
        data = claims_file(Path(root)).read_bytes()
    except OSError:
        return {}
    found: dict[str, str] = {}
    for line in data.rpartition(b"\n")[0].split(b"\n"):
        try:
            claim = json.loads(line)
            found.setdefault(str(claim["key"]).lower(), str(claim["family"]))
        except (ValueError, KeyError, TypeError):
            continue
    return found
