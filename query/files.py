"""A run's saved files as the read side sees them: `public Run.files()` / `.file(name)`.

Read straight from the run's files folder (docs/FORMAT.md, "Run files"; the rules are in
engine/files.py). Shaped like wandb's public `File`: `name`, `size`, `updated_at`, `url`,
`direct_url`, `md5` (base64 of the MD5 digest, as wandb's) and `download()`; also `sha256`
(hex), the digest runlake uses everywhere else. Digests are computed when first read, so
listing a run's files reads no file contents.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import os
from pathlib import Path
from typing import IO

from runlake.errors import RunFileError
from runlake.engine.files import FileInfo, copy_into, file_path, list_files, validate_file_name
from runlake.engine.layout import RunPaths
from runlake.engine.times import iso

_CHUNK = 1 << 20


class File:
    """One file of a run (wandb's public `File`).

    >>> import runlake
    >>> with runlake.init(project="p", settings={"root": "store"}) as run:
    ...     with open("notes.txt", "w") as f:
    ...         _ = f.write("hello")
    ...     _ = run.save("notes.txt", policy="now")
    >>> f = runlake.Api("store").run(f"p/{run.id}").file("notes.txt")
    >>> f.size, f.md5
    (5, 'XUFAKrxLKna5cZ2REBfFkg==')
    """

    def __init__(self, paths: RunPaths, info: FileInfo) -> None:
        self._paths = paths
        self._path = info.path
        self.name: str = info.name
        self.size: int = info.size
        self.updated_at: str = iso(info.mtime)
        self.mimetype: str = mimetypes.guess_type(info.name)[0] or "application/octet-stream"
        self._digests: dict[str, str] = {}

    @property
    def url(self) -> str:
        """A file:// URL of the stored copy."""
        return self._path.as_uri()

    @property
    def direct_url(self) -> str:
        return self.url

    @property
    def path_uri(self) -> str:
        return self.url

    def _digest(self, kind: str) -> str:
        if kind not in self._digests:
            md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
            with open(self._path, "rb") as f:
                while chunk := f.read(_CHUNK):
                    md5.update(chunk)
                    sha.update(chunk)
            self._digests = {"md5": base64.b64encode(md5.digest()).decode("ascii"),
                             "sha256": sha.hexdigest()}
        return self._digests[kind]

    @property
    def md5(self) -> str:
        """Base64 of the MD5 digest, the form wandb's `File.md5` has (for comparisons only)."""
        return self._digest("md5")

    @property
    def sha256(self) -> str:
        """Lowercase hex sha256 of the bytes (artifact objects are named by it)."""
        return self._digest("sha256")

    def download(self, root: str | os.PathLike[str] = ".", replace: bool = False,
                 exist_ok: bool = False) -> IO[str]:
        """Copy the file to `root/<name>` and return it open for reading (text), as wandb's.

        An existing `root/<name>` is an error (RunFileError, a ValueError) unless
        `replace=True` (overwrite it) or `exist_ok=True` (return it as it is).
        """
        dest_root = Path(root)
        target = file_path(dest_root, self.name)
        if target.exists() and not replace:
            if exist_ok:
                return open(target, encoding="utf-8")
            raise RunFileError(
                f"{target} already exists: pass replace=True to overwrite it or exist_ok=True "
                "to keep it"
            )
        try:
            copy_into(self._path, target, dest_root)
        except FileNotFoundError:
            raise RunFileError(f"file {self.name!r} of run {self._run} was deleted") from None
        return open(target, encoding="utf-8")

    def delete(self) -> None:
        """Remove the stored file. (A live run re-copies a file it saves with policy="live"
        when that file next changes.)"""
        self._path.unlink(missing_ok=True)

    @property
    def _run(self) -> str:
        return f"{self._paths.entity}/{self._paths.project}/{self._paths.run_id}"

    def __repr__(self) -> str:
        return f"<File {self.name} ({self.mimetype}) {self.size} bytes>"


def files(paths: RunPaths, names: list[str] | None = None) -> list[File]:
    """The run's files sorted by name; with `names`, only those of them that exist."""
    if names is None:
        return [File(paths, info) for info in list_files(paths.files_dir)]
    if isinstance(names, str):
        names = [names]
    found = []
    for name in dict.fromkeys(validate_file_name(n) for n in names):
        one = file(paths, name)
        if one is not None:
            found.append(one)
    return found


def file(paths: RunPaths, name: str) -> File | None:
    """One file by name, None if the run has no such file."""
    target = file_path(paths.files_dir, name)
    try:
        st = target.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not target.is_file() or target.is_symlink():
        return None
    return File(paths, FileInfo(validate_file_name(name), target, st.st_size, st.st_mtime))
