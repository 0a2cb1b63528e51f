"""The store-wide family of each history key: which family the bare column `key` holds.

Within a run, the first family logged under a key takes the bare column and others go to
`key@family` (engine/convert.RunSchema). Across runs that rule alone lets `lr` be a float in
one run and a list in another, and then no engine can read the store as one table (DuckDB's
`union_by_name` fails on a scalar beside a list or a struct). So the first run *of the store*
to log a key claims the bare name for its family, in `<root>/keys/<h[:2]>/<h>.json` (`h` the
sha256 of the key): `{"key": ..., "family": ...}`. A later run whose first value of the key is of
another family stores it in `key@family` from the start (docs/FORMAT.md, "Keys").

Only the writer thread asks, once per key new to its run and then from a per-process cache,
so `log()` does no I/O. A claim is made by hard-linking a whole temporary file to its name (the
way artifact versions are claimed), so two runs claiming at once agree on one family and no
reader sees a half-written claim. Best effort: a store this process cannot write keeps the
run's own rule.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

_lock = threading.Lock()
_cache: dict[tuple[str, str], str] = {}  # (root, key) -> the family of its bare column


def folder(root: Path) -> Path:
    return root / "keys"


def claim_path(root: Path, key: str) -> Path:
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return folder(root) / digest[:2] / f"{digest}.json"


class KeyFamilies:
    """`owner(key, family)`: the family of the store's bare column `key`, claiming it for
    `family` if no run has yet."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._where = str(self.root.resolve())

    def owner(self, key: str, family: str) -> str:
        cached = _cache.get((self._where, key))
        if cached is not None:
            return cached
        found = self._claim(key, family)
        with _lock:
            _cache[(self._where, key)] = found
        return found

    def _claim(self, key: str, family: str) -> str:
        path = claim_path(self.root, key)
        try:
            return self._read(path, key)
        except FileNotFoundError:
            pass
        except (OSError, ValueError):
            return family  # unreadable: this run's own rule
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".tmp-{os.getpid()}-{threading.get_ident()}-{path.name}")
            tmp.write_text(json.dumps({"key": key, "family": family}, ensure_ascii=False),
                           encoding="utf-8", errors="surrogatepass")
            try:
                os.link(tmp, path)  # fails if another run claimed it first
                return family
            except FileExistsError:
                return self._read(path, key)
            finally:
                tmp.unlink(missing_ok=True)
        except (OSError, ValueError):
            return family  # a read-only or full store: nothing is claimed, the run goes on

    @staticmethod
    def _read(path: Path, key: str) -> str:
        data = json.loads(path.read_text(encoding="utf-8", errors="surrogatepass"))
        if data.get("key") != key:  # a sha256 collision, or a damaged file: not ours
            raise ValueError(f"{path} claims another key")
        return str(data["family"])
