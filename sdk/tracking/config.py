"""`run.config`: the run's hyperparameters, with dict and attribute access.

Every change is written to the run's metadata at once. Changing a value that is already set
needs `allow_val_change=True`, as in wandb; setting the same value again is not a change.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import enum
import json
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from runlake.errors import (
    ConfigError, InvalidKeyError, InvalidNameError, InvalidValueError, MissingExtraError,
)
from runlake.media.base import Media


def config_source(source: object) -> dict[str, Any]:
    """What `init(config=...)` accepts: a mapping, an argparse.Namespace, or a YAML/JSON path."""
    if source is None:
        return {}
    if isinstance(source, Mapping):
        return dict(source)
    if isinstance(source, argparse.Namespace):
        return dict(vars(source))
    if isinstance(source, (str, os.PathLike)):
        return _load_file(Path(source))
    raise InvalidValueError(
        f"config must be a dict, an argparse.Namespace or a path to a YAML/JSON file; "
        f"got {type(source).__name__}"
    )


def _load_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        data = json.loads(text)
    else:
        try:
            import yaml
        except ImportError as exc:
            raise MissingExtraError(
                "reading a YAML config needs PyYAML: pip install 'runlake[yaml]'"
            ) from exc
        data = yaml.safe_load(text)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping, not {type(data).__name__}")
    # wandb's config-defaults.yaml style: {"lr": {"value": 0.1, "desc": ...}}
    return {
        k: v["value"] if isinstance(v, dict) and set(v) <= {"value", "desc"} and "value" in v else v
        for k, v in data.items()
    }


_MAX_DEPTH = 64  # nesting deeper than this (or a dict that contains itself) is refused


def clean(key: str, value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy of a config value, sanitised as wandb's config does: an Enum is its
    name, a dataclass a dict, a set or tuple a list, a slice its three fields, bytes their
    UTF-8 text, a date its ISO text, a function or class its dotted name and anything else
    `str(value)`, so one odd value never refuses the update. Media values are refused (as in
    wandb), and so are dicts nested past _MAX_DEPTH or containing themselves."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, enum.Enum):  # before int/str: an IntEnum or str enum is its name too
        return value.name
    if isinstance(value, (bool, int, float, str)):
        return _builtin(value)
    if isinstance(value, np.generic):  # a datetime64's or complex's item() is checked too
        return clean(key, value.item(), depth)
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):  # numbers, bools and str as lists; others checked
        items = value.tolist()
        return items if value.dtype.kind in "biufU" else clean(key, items, depth)
    if isinstance(value, Media):
        raise InvalidValueError(
            f"config key {_shown(key)}: a {type(value).__name__} can't be stored in config "
            "(wandb refuses media there too); log it with run.log() or set run.summary[key]")
    nests = isinstance(value, (Mapping, list, tuple, set, frozenset, argparse.Namespace)) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type))
    if depth >= _MAX_DEPTH and nests:
        raise InvalidValueError(
            f"config key {_shown(key)}: values nested more than {_MAX_DEPTH} levels deep (or a "
            "dict or list that contains itself) can't be stored in config; flatten it"
        )
    if isinstance(value, Mapping):
        return {nested_key(k): clean(f"{key}.{k}", v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(f"{key}[{i}]", v, depth + 1) for i, v in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        return [clean(f"{key}[{i}]", v, depth + 1) for i, v in enumerate(_ordered(value))]
    if isinstance(value, argparse.Namespace):
        return clean(key, vars(value), depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return clean(key, fields, depth + 1)
    if isinstance(value, slice):
        return {"slice_start": clean(key, value.start, depth + 1),
                "slice_step": clean(key, value.step, depth + 1),
                "slice_stop": clean(key, value.stop, depth + 1)}
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if callable(value) and hasattr(value, "__qualname__") and hasattr(value, "__module__"):
        return f"{value.__module__}.{value.__qualname__}"
    return str(value)


def _builtin(value: bool | int | float | str) -> bool | int | float | str:
    """A subclass of a JSON scalar as the scalar itself."""
    for base in (bool, int, float):
        if isinstance(value, base):
            return base(value)
    return str.__str__(value)  # type: ignore[arg-type]


def _ordered(items: set[Any] | frozenset[Any]) -> list[Any]:
    """A set's members sorted where they compare (so the stored list does not depend on hash
    order), else as iterated."""
    try:
        return sorted(items)
    except TypeError:
        return list(items)


def _shown(key: str) -> str:
    return repr(key) if len(key) <= 200 else repr(key[:197] + "...")


def nested_key(k: object) -> str:
    """A key inside a config value, as the stored JSON spells it: transformers' id2label has
    int keys ({0: "NEG"}), which JSON can only hold as strings ("0")."""
    if isinstance(k, str):
        return str.__str__(k)
    if isinstance(k, enum.Enum):
        return k.name
    if isinstance(k, np.generic):
        k = k.item()
    if k is None or isinstance(k, bool):
        return json.dumps(k)  # "null", "true", "false", as json.dumps writes such keys
    return str(k)


def _key(k: object) -> str:
    """A top-level config key: a non-empty str, with leading and trailing '-' stripped as
    wandb does (argparse's "--lr" is "lr")."""
    if not isinstance(k, str):
        raise InvalidKeyError(
            f"config keys must be strings; got {type(k).__name__} {k!r}: convert it with str()")
    name = str.__str__(k).strip("-")  # a str enum key is its value, as json.dumps writes it
    if not name:
        raise InvalidNameError(f"config key {k!r} is empty (once '-' are stripped): name it")
    return name


class Config:
    """Dict- and attribute-style access to a run's config.

    >>> import runlake
    >>> with runlake.init(mode="disabled", config={"lr": 0.1}) as run:
    ...     run.config.bs = 64
    ...     (run.config.lr, run.config["bs"])
    (0.1, 64)
    """

    def __init__(
        self,
        items: Mapping[str, Any] | None = None,
        on_change: Callable[[dict[str, Any]], None] | None = None,
        allow_val_change: bool = False,
    ) -> None:
        object.__setattr__(self, "_items", {})
        object.__setattr__(self, "_on_change", None)
        object.__setattr__(self, "_allow_val_change", allow_val_change)
        if items:
            self.update(items, allow_val_change=True)
        object.__setattr__(self, "_on_change", on_change)

    def update(self, d: Mapping[str, Any] | argparse.Namespace, allow_val_change: bool = False) -> None:
        """Add keys; changing an existing value needs `allow_val_change=True`."""
        if isinstance(d, argparse.Namespace):
            d = vars(d)
        if not isinstance(d, Mapping):
            raise InvalidValueError(f"config.update() takes a dict, got {type(d).__name__}")
        new = {_key(k): clean(_key(k), v) for k, v in d.items()}
        if not (allow_val_change or self._allow_val_change):
            for k, v in new.items():
                if k in self._items and self._items[k] != v:
                    raise ConfigError(
                        f"config key {k!r} is already {self._items[k]!r}; refusing to change it "
                        f"to {v!r}. Pass allow_val_change=True to config.update() to change it"
                    )
        self._items.update(new)
        self._changed()

    def setdefaults(self, d: Mapping[str, Any]) -> None:
        """Set the keys of `d` that are not set yet."""
        self.update({k: v for k, v in d.items() if _key(k) not in self._items})

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self.as_dict())

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(self._items))

    def get(self, key: str, default: Any = None) -> Any:
        return self._items.get(key, default)

    def keys(self):  # noqa: ANN201 - dict view
        return self._items.keys()

    def items(self):  # noqa: ANN201
        return self._items.items()

    def values(self):  # noqa: ANN201
        return self._items.values()

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        del self._items[key]
        self._changed()

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return self._items[key]
        except KeyError:
            raise AttributeError(f"config has no key {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Config({self._items!r})"
