"""Deliberate differences between runlake and wandb that the conformance suite accepts.

Each entry names a scenario and an observation key (fnmatch patterns) and why runlake differs;
`design` is the first cell of its row in docs/DESIGN.md's "Deliberate differences from wandb"
table, where every one of them is also listed. `accepts`, when given, narrows the entry to
differences of one shape (it gets both normalised values). An entry for one scenario that no
longer differs there fails that scenario, so the table stays true.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Difference:
    scenario: str
    field: str
    reason: str
    design: str
    accepts: Callable[[Any, Any], bool] | None = None


def _error(value: Any) -> dict[str, Any] | None:
    keys = {"error", "builtins", "library"}
    return value if isinstance(value, dict) and set(value) == keys else None


def caught_alike(wandb: Any, runlake: Any) -> bool:
    """Both raised, and every class wandb's error is (builtin, or wandb's own by name) is also
    one of runlake's error's classes: each `except` written for wandb catches runlake's too."""
    w, r = _error(wandb), _error(runlake)
    if w is None or r is None:
        return False
    return set(w["library"]) <= set(r["library"]) and set(w["builtins"]) <= set(r["builtins"])


def more_parameters(wandb: Any, runlake: Any) -> bool:
    """Runlake's callable takes every parameter wandb's takes, of the same kind and default
    (a default wandb shows only as an object, a sentinel or a function, may differ), and
    some more of its own."""
    if not isinstance(wandb, dict) or not isinstance(runlake, dict):
        return False
    for name, (kind, default) in wandb.items():
        ours = runlake.get(name)
        if ours is None or ours[0] != kind:
            return False
        if ours[1] != default and not (isinstance(default, dict) and "$type" in default):
            return False
    return True


def more_names(wandb: Any, runlake: Any) -> bool:
    """{name: present}: runlake has every name wandb has, and some more."""
    return (isinstance(wandb, dict) and isinstance(runlake, dict) and wandb.keys() == runlake.keys()
            and all(runlake[k] for k in wandb if wandb[k]))


def int_for_float(wandb: Any, runlake: Any) -> bool:
    """{"ok": type name}: wandb read an int back where runlake kept the float."""
    return wandb == {"ok": "int"} and runlake == {"ok": "float"}


def more_keys(wandb: Any, runlake: Any) -> bool:
    """{"ok": {key: type}}: runlake's value has every key of wandb's, of the same type."""
    w, r = (v.get("ok") if isinstance(v, dict) else None for v in (wandb, runlake))
    return (isinstance(w, dict) and isinstance(r, dict)
            and all(r.get(k) == t for k, t in w.items()))


_ERROR = "an error class"
_OLDER = "names and parameters wandb 0.31 dropped from its Run reference"
_OFFLINE_RUN = "offline run: entity `\"\"`, path `project/id`, `name` None"
_SUMMARY_DICT = "`key in run.summary` raises `KeyError: 0`; a missing attribute KeyError"
_BAD_INPUT = "`log(step=-1)` is dropped; a bad config key or artifact type fails inside wandb"
_RESUME = "offline `resume=` starts a fresh run"
_MEDIA = "a Table's summary points at a run-table artifact"
_ARTIFACT = "offline: `use_artifact` raises, a logged artifact has no version"

DIFFERENCES: tuple[Difference, ...] = (
    Difference("*", "*", "runlake raises a narrower error that every `except` written for "
               "wandb's still catches: a class of its own under runlake.Error (wandb's `Error`) "
               "that also derives from the builtin wandb raises (ConfigError is a ValueError)",
               _ERROR, accepts=caught_alike),
    Difference("run_surface", "has.dropped", "runlake keeps the Run methods wandb's Run "
               "reference (v0.18) lists and wandb 0.31 removed (get_url, join, ...)", _OLDER,
               accepts=more_names),
    Difference("run_surface", "params.*", "runlake keeps parameters wandb 0.31 removed "
               "(log(sync=), finish(quiet=), define_metric(goal=))", _OLDER,
               accepts=more_parameters),
    Difference("init_finish", "run.path_parts", "an offline wandb run has entity '' and the "
               "path project/id; a runlake run's entity is 'local', its path local/project/id",
               _OFFLINE_RUN),
    Difference("init_finish", "given.name_type", "an offline wandb run has no name (its server "
               "names runs); runlake names every run", _OFFLINE_RUN),
    Difference("config", "delete.*", "`del run.config[key]` raises AttributeError in wandb; "
               "runlake's config is a dict and removes the key", "`del run.config[key]` raises "
               "AttributeError"),
    Difference("summary", "contains.operator", "wandb's Summary has no __contains__, so `in` "
               "indexes it with 0 and raises KeyError", _SUMMARY_DICT),
    Difference("summary", "attr.absent", "a missing summary attribute is an AttributeError, so "
               "hasattr() and getattr(summary, key, default) work", _SUMMARY_DICT),
    Difference("summary", "delete.absent", "deleting a key the summary does not have raises "
               "KeyError, as a dict does; wandb lets it pass", _SUMMARY_DICT),
    Difference("summary", "nested.after_set_inside", "setting one key inside a nested summary "
               "value keeps its siblings; wandb's replaces the nested dict with that key alone",
               "`summary[\"a\"][\"b\"] = v` replaces `a`'s other keys"),
    Difference("summary", "after_finish.visible", "a finished run's summary still reads its "
               "final values from the store; wandb's reads {}", "summary after `finish()`: `{}`"),
    Difference("media", "image.summary_shape", "an Image's summary reference also records its "
               "mode", _MEDIA, accepts=more_keys),
    Difference("media", "table.summary_shape", "a Table is a file in the run folder, and its "
               "summary reference names its columns; wandb's points at a run-table artifact "
               "(artifact_path, _latest_artifact_path, log_mode)", _MEDIA),
    Difference("artifacts", "use_artifact.offline", "the store is local, so use_artifact finds "
               "a logged artifact offline; wandb's offline use_artifact raises TypeError",
               _ARTIFACT),
    Difference("artifacts", "logged.*", "a logged artifact is versioned in the local store at "
               "once (name 'dataset:v0', its aliases readable); offline wandb gives no version",
               _ARTIFACT),
    Difference("run_methods", "restore.missing", "restore() reads the local store offline and "
               "returns None for a file never saved, as wandb's Run reference says of a file it "
               "cannot find; offline wandb raises UsageError", "offline `restore()` raises"),
    Difference("resume", "allow.*", "offline wandb cannot resume (no server to ask) and starts "
               "a fresh run; runlake resumes the stored run: step, config and summary go on",
               _RESUME),
    Difference("resume", "must.unknown", "runlake refuses resume='must' for an id the store "
               "lacks (RunNotFoundError); offline wandb cannot know", _RESUME),
    Difference("resume", "must.*", "as allow: runlake resumes the stored run", _RESUME),
    Difference("resume", "True.*", "as allow: runlake resumes the stored run", _RESUME),
    Difference("resume", "never.existing", "runlake refuses resume='never' for an id the "
               "store has (RunExistsError); offline wandb cannot know", _RESUME),
    Difference("misuse", "log.negative_step", "a negative step is refused with "
               "InvalidValueError; wandb drops the row as a step that goes back", _BAD_INPUT),
    Difference("misuse", "config.bad_key_type", "a non-str config key is refused with "
               "InvalidValueError (a TypeError); wandb fails with an AttributeError from inside",
               _BAD_INPUT),
    Difference("misuse", "artifact.missing_type", "Artifact(type=None) is refused with "
               "InvalidNameError; wandb fails with an AttributeError from inside", _BAD_INPUT),
    Difference("log_values", "*list_mixed", "a list mixing numbers and strings is refused "
               "with InvalidValueError; wandb keeps it", "a list mixing numbers and strings is "
               "logged"),
    Difference("log_values", "summary_type.*", "a float with an integral value (4.0, -0.0) "
               "reads back from the summary as a float; wandb's reads it back as an int",
               "the summary reads an integral float back as an int", accepts=int_for_float),
    Difference("artifacts", "bad.type", "an empty artifact type is refused with "
               "InvalidNameError; wandb takes it", _BAD_INPUT),
)
