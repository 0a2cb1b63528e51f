"""Where everything lives under a store root: the one module that owns the on-disk contract.

It mirrors docs/FORMAT.md; a change here is a change of `FORMAT_VERSION` there.

    <root>/history/entity=<e>/project=<p>/run_id=<id>/part-<seq>.parquet   compacted history
    <root>/runs/entity=<e>/project=<p>/run_id=<id>/run.json               run metadata
    <root>/runs/entity=<e>/project=<p>/run_id=<id>/wal/<seq>.arrows        write-ahead log
    <root>/runs/entity=<e>/project=<p>/run_id=<id>/files/                  the run's own files
    <root>/runs/entity=<e>/project=<p>/run_id=<id>/alerts.jsonl            run.alert() records
    <root>/runs/entity=<e>/project=<p>/run_id=<id>/rewound/<stamp>/        rows set aside by a rewind
    <root>/system/entity=<e>/project=<p>/run_id=<id>/part-<seq>.parquet    system metrics
    <root>/runs/entity=<e>/project=<p>/run_id=<id>/system-wal/<seq>.arrows their write-ahead log
    <root>/artifacts/...                                                 artifacts: engine/objects.py

Every name that becomes a path component is validated first, so nothing a user passes can
point outside the root.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from runlake.errors import InvalidNameError, InvalidValueError

FORMAT_VERSION = 1

# The three history columns every segment has; user keys may not start with "_".
STEP, RUNTIME, TIMESTAMP = "_step", "_runtime", "_timestamp"
PARTITION_KEYS = ("entity", "project", "run_id")

ROOT_ENV = "RUNLAKE_DIR"  # the store root itself
PARENT_ENV = "WANDB_DIR"  # as init(dir=...): a folder the store lives under, as wandb's wandb/
# Relative to the working directory (or to init(dir=...)/$WANDB_DIR), like MLflow's ./mlruns.
# Not "runlake": a folder of that name in the working directory is found before an editable
# install and shadows the package.
DEFAULT_ROOT = "runlake-store"
LEGACY_ROOT = "runlake"  # the default before; still used when it holds a store (below)
DEFAULT_ENTITY = "local"
DEFAULT_PROJECT = "uncategorized"  # wandb's default project name

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")


def validate_name(kind: str, value: object) -> str:
    """Return `value` if it is safe as one path component, else raise InvalidNameError.

    >>> validate_name("project", "mnist-v2")
    'mnist-v2'
    """
    if not isinstance(value, str):
        raise InvalidNameError(
            f"{kind} must be a string, got {type(value).__name__} {value!r}"
        )
    if not is_valid_name(value):
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise InvalidNameError(
            f"invalid {kind} {shown!r}: use 1-128 letters, digits, '-', '_' or '.', "
            "not starting with '.' or '-' and without '..'"
        )
    return value


def is_valid_name(value: str) -> bool:
    """`validate_name`'s rule as a test, for listings that skip what runlake could not have made."""
    return _NAME.fullmatch(value) is not None and ".." not in value


def default_entity() -> str:
    """$RUNLAKE_ENTITY, else $WANDB_ENTITY, else "local"."""
    return os.environ.get("RUNLAKE_ENTITY") or os.environ.get("WANDB_ENTITY") or DEFAULT_ENTITY


def default_project() -> str:
    """$RUNLAKE_PROJECT, else $WANDB_PROJECT, else "uncategorized"."""
    return os.environ.get("RUNLAKE_PROJECT") or os.environ.get("WANDB_PROJECT") or DEFAULT_PROJECT


class UnsupportedRootError(InvalidValueError):
    """A store root runlake cannot use yet: a URI such as s3://bucket/path."""


# `scheme:/` as well as `scheme://`: pathlib turns "s3://b/p" into "s3:/b/p" before we see it.
# Two letters at least, so that a Windows drive ("C:/data") is still a local path.
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]+:/")


def check_root(root: str | os.PathLike[str], where: str = "the store root") -> str:
    """`root` as a string if it is a local path; a URI raises UnsupportedRootError.

    Without this, "s3://bucket/p" would silently become the local folder ./s3:/bucket/p.
    """
    value = os.fspath(root)
    if isinstance(value, str) and _URI.match(value):
        raise UnsupportedRootError(
            f"{where} is {value!r}: object-storage roots (s3://, gs://, az://, http://, ...) "
            "are not supported yet; use a local folder path"
        )
    return value


def resolve_root(root: str | os.PathLike[str] | None = None,
                 parent: str | os.PathLike[str] | None = None) -> Path:
    """The store root, highest first: `root` (Settings(root=...), Api(root=...)), $RUNLAKE_DIR,
    `parent` (init(dir=...)), $WANDB_DIR, the working directory. A parent folder X holds the
    store at X/runlake-store, as wandb writes X/wandb/ (see `store_under`).

    An existing ./runlake store is still used while ./runlake-store does not exist.
    """
    if root is not None:
        return Path(check_root(root)).expanduser().absolute()
    if value := os.environ.get(ROOT_ENV):
        return Path(check_root(value, f"${ROOT_ENV}")).expanduser().absolute()
    if parent is not None:
        return store_under(parent, "init(dir=...)")
    if value := os.environ.get(PARENT_ENV):
        return store_under(value, f"${PARENT_ENV}")
    return _default_root()


_noticed: set[Path] = set()


def _notice(path: Path, text: str) -> None:
    """One line on stderr, once per folder and process."""
    if path not in _noticed:
        _noticed.add(path)
        print(f"runlake: {text}", file=sys.stderr)


def _holds_store(folder: Path) -> bool:
    return (folder / "runs").is_dir() or (folder / "history").is_dir()


def store_under(parent: str | os.PathLike[str], where: str = "init(dir=...)") -> Path:
    """The store of a parent folder X: X/runlake-store. A store written at X itself (X/runs or
    X/history, from when dir= named the store root) is still read and written there, with a
    one-line notice, so that no data disappears."""
    folder = Path(check_root(parent, where)).expanduser().absolute()
    store = folder / DEFAULT_ROOT
    if os.path.lexists(store) or not _holds_store(folder):
        return store
    _notice(folder, f"using the store {folder} ({where} names the folder the store lives "
                    f"under, now {store}); move its contents there, or pass "
                    f"Settings(root={str(folder)!r}) or $RUNLAKE_DIR to keep it where it is")
    return folder


def _default_root() -> Path:
    default, legacy = Path(DEFAULT_ROOT).absolute(), Path(LEGACY_ROOT).absolute()
    if os.path.lexists(default) or not _holds_store(legacy):
        return default
    _notice(legacy, f"using the store {legacy} (the old default); move it to {default} "
                    f"with `mv {LEGACY_ROOT} {DEFAULT_ROOT}`, since a ./{LEGACY_ROOT} folder "
                    "shadows an editable install of the runlake package")
    return legacy


@dataclass(frozen=True)
class RunPaths:
    """Paths of one run. Build it with `RunPaths.of`, which validates every component."""

    root: Path
    entity: str
    project: str
    run_id: str

    @classmethod
    def of(cls, root: str | os.PathLike[str], entity: str, project: str, run_id: str) -> RunPaths:
        return cls(
            Path(root),
            validate_name("entity", entity),
            validate_name("project", project),
            validate_name("run id", run_id),
        )

    @property
    def _partition(self) -> tuple[str, str, str]:
        return (f"entity={self.entity}", f"project={self.project}", f"run_id={self.run_id}")

    @property
    def history_dir(self) -> Path:
        return self.root.joinpath("history", *self._partition)

    @property
    def run_dir(self) -> Path:
        return self.root.joinpath("runs", *self._partition)

    @property
    def meta_file(self) -> Path:
        return self.run_dir / "run.json"

    @property
    def lock_file(self) -> Path:
        return self.run_dir / "lock"

    @property
    def wal_dir(self) -> Path:
        return self.run_dir / "wal"

    @property
    def files_dir(self) -> Path:
        return self.run_dir / "files"

    @property
    def alerts_file(self) -> Path:
        """`run.alert()`'s records, one JSON object a line (engine/alertlog.py)."""
        return self.run_dir / "alerts.jsonl"

    def rewound_dir(self, stamp: str) -> Path:
        """Where `init(resume_from=...)` sets aside the rows after the step it rewinds to."""
        return self.run_dir / "rewound" / stamp

    @property
    def system_dir(self) -> Path:
        """System-metrics segments: a second stream, partitioned like history/."""
        return self.root.joinpath("system", *self._partition)

    @property
    def system_wal_dir(self) -> Path:
        return self.run_dir / "system-wal"

    def system_wal_file(self, seq: int) -> Path:
        return self.system_wal_dir / f"{seq:06d}.arrows"

    def system_segment_file(self, seq: int) -> Path:
        return self.system_dir / f"part-{seq:06d}.parquet"

    def wal_file(self, seq: int) -> Path:
        return self.wal_dir / f"{seq:06d}.arrows"

    def segment_file(self, seq: int) -> Path:
        return self.history_dir / f"part-{seq:06d}.parquet"


def project_dir(root: Path, entity: str, project: str) -> Path:
    """The folder holding one project's run folders."""
    return root.joinpath(
        "runs",
        f"entity={validate_name('entity', entity)}",
        f"project={validate_name('project', project)}",
    )


def auto_resume_file(root: Path, entity: str, project: str, key: str) -> Path:
    """The marker `init(resume="auto")` keeps while a run started from one directory is
    unfinished (`key` identifies the machine and working directory)."""
    return project_dir(root, entity, project) / ".resume" / f"{key}.json"


def seq_of(path: Path) -> int:
    """The sequence number in a WAL or segment file name (`000003.arrows`, `part-000003...`)."""
    return int(path.name.split(".")[0].rsplit("-", 1)[-1])
