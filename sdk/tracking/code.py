"""`Run.log_code` and `init(save_code=True)`: a run's source code as a "code" artifact.

The artifact is an ordinary one (sdk/artifacts/artifact.py, logged with `run.log_artifact`), named
`source-<project>-<entry script>` by default, so the same code logged twice is one version
and each run's producer edge says which run logged it.
"""

from __future__ import annotations

import inspect
import os
import re
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runlake.errors import InvalidValueError

from runlake.artifacts.artifact import Artifact

from runlake.tracking import artifacts as run_artifacts
from runlake.tracking.handle import RunHandle


def is_code_file(path: str) -> bool:
    """The default `include_fn` (`_is_py_requirements_or_dockerfile` in wandb's Run reference
    after v0.18): Python files, `requirements.txt` and `Dockerfile*`.

    >>> is_code_file("src/train.py"), is_code_file("Dockerfile.gpu"), is_code_file("a.ipynb")
    (True, True, False)
    """
    name = os.path.basename(path)
    return name.endswith(".py") or name == "requirements.txt" or name.startswith("Dockerfile")


def exclude_wandb_fn(path: str, root: str) -> bool:
    """The default `exclude_fn`: files under `<root>/wandb/` and `<root>/.wandb/`.

    >>> exclude_wandb_fn("/w/wandb/run/x.py", "/w"), exclude_wandb_fn("/w/x.py", "/w")
    (True, False)
    """
    rel = os.path.relpath(path, root)
    return any(rel.startswith(folder + os.sep) for folder in ("wandb", ".wandb"))


def _caller(fn: Any, what: str) -> Callable[[str, str], bool]:
    """`fn` called as fn(path, root) or fn(path), whichever it takes (wandb accepts both)."""
    if not callable(fn):
        raise InvalidValueError(
            f"log_code({what}=...) takes a function of (path) or (path, root), got "
            f"{type(fn).__name__} {fn!r}"
        )
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature: assume (path)
        return lambda path, root: bool(fn(path))
    kinds = inspect.Parameter
    if any(p.kind == kinds.VAR_POSITIONAL for p in params):
        return lambda path, root: bool(fn(path, root))
    positional = [p for p in params if p.kind in (kinds.POSITIONAL_ONLY,
                                                 kinds.POSITIONAL_OR_KEYWORD)]
    if len(positional) >= 2:
        return lambda path, root: bool(fn(path, root))
    if len(positional) == 1:
        return lambda path, root: bool(fn(path))
    raise InvalidValueError(
        f"log_code({what}=...) must take (path) or (path, root); {fn!r} takes neither"
    )


def artifact_name(text: str) -> str:
    """`text` made a valid artifact name: other characters become '_', at most 128 long.

    >>> artifact_name("source-mnist-scripts/train v2.py")
    'source-mnist-scripts_train_v2.py'
    """
    name = re.sub(r"[^A-Za-z0-9_.\-]", "_", text)
    name = re.sub(r"\.(?=\.)", "_", name)  # no '..' (refused in names)
    if len(name) > 128:
        name = f"{name[:64]}_{name[-63:]}"
    return name


def entry_script() -> Path | None:
    """The program being run (`__main__.__file__`, else `sys.argv[0]`), None if none is a file
    (an interactive session, `python -c`)."""
    main = sys.modules.get("__main__")
    for candidate in (getattr(main, "__file__", None), sys.argv[0] if sys.argv else None):
        # A Jupyter kernel's argv[0] is its launcher, not the user's code.
        if candidate and os.path.isfile(candidate) and "ipykernel" not in candidate:
            return Path(os.path.abspath(candidate))
    return None


def _entry_name(script: Path) -> str:
    """The script's path relative to the working directory, or its file name if outside it."""
    try:
        return script.relative_to(Path.cwd().absolute()).as_posix()
    except ValueError:
        return script.name


def default_name(project: str, script: Path | None = None) -> str:
    """`source-<project>-<entry script path>`, sanitised (`interactive` without a script)."""
    script = script if script is not None else entry_script()
    entry = _entry_name(script) if script is not None else "interactive"
    return artifact_name(f"source-{project}-{entry}")


def log_code(run: RunHandle, root: str | os.PathLike[str] | None = ".", name: str | None = None,
             include_fn: Any = None, exclude_fn: Any = None) -> Artifact | None:
    """Log the files under `root` that `include_fn` takes and `exclude_fn` does not, as a
    "code" artifact; None if there were none. The store itself is never walked into."""
    if run.paths is None:
        return None  # mode="disabled": a no-op
    run.require_live("log_code()")
    include = _caller(is_code_file if include_fn is None else include_fn, "include_fn")
    exclude = _caller(exclude_wandb_fn if exclude_fn is None else exclude_fn, "exclude_fn")
    artifact = Artifact(default_name(run.project) if name is None else name, "code")
    if root is not None:
        top = os.path.abspath(root)
        if not os.path.isdir(top):
            raise InvalidValueError(f"log_code(root={root!r}): not a folder; pass the folder "
                                    "to search for code")
        store = run.paths.root.resolve()
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames
                                 if Path(dirpath, d).resolve() != store)
            for fname in sorted(filenames):
                path = os.path.join(dirpath, fname)
                if os.path.isfile(path) and include(path, top) and not exclude(path, top):
                    artifact.add_file(path, Path(os.path.relpath(path, top)).as_posix())
    if not artifact.files():
        warnings.warn(f"runlake: log_code found no file to log under {root!r}; nothing logged",
                      UserWarning, stacklevel=3)
        return None
    return run_artifacts.log_artifact(run, artifact)


def save_entry_script(project: str, log_artifact: Callable[[Artifact], Artifact]
                      ) -> Artifact | None:
    """init(save_code=True): the entry script alone, as the run's code artifact (logged with
    the run's `log_artifact`). A failure is a warning: saving code must not stop the
    training it describes."""
    script = entry_script()
    if script is None:
        warnings.warn("runlake: save_code=True, but this process has no entry script (an "
                      "interactive session?): no code logged", UserWarning, stacklevel=3)
        return None
    artifact = Artifact(default_name(project, script), "code")
    artifact.add_file(script, _entry_name(script))
    try:
        return log_artifact(artifact)
    except OSError as exc:
        warnings.warn(f"runlake: could not save the code of {script} ({type(exc).__name__}: "
                      f"{exc})", RuntimeWarning, stacklevel=3)
        return None
