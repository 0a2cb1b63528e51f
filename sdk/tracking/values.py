"""Turning what a user passes to `log()` into history values the engine can store.

Nested dicts are flattened with "." as wandb's history does (`{"a": {"b": 1}}` is the column
`a.b`); numpy and torch scalars and 0-d arrays become scalars; lists, tuples and 1-d arrays
of numbers or strings become list values, except that an array of more than 32 numbers
becomes a `Histogram` (wandb's rule: a Python list never does); a smaller array of more
dimensions is kept as its nested list (a struct, `nested_array`). A `_step` key is ignored,
as wandb ignores it. Media values (`Image`, lists of them, matplotlib and Plotly
figures) are kept as they are: the run encodes them once the step is known
(sdk/media/store.py). Anything else is refused with an error naming the key, the type and
what to do instead.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from runlake.errors import InvalidKeyError, InvalidNameError, InvalidValueError
from runlake.engine.kinds import KIND_OF_TYPE, FloatList, IntList, Ref, StrList

from runlake.media.histogram import Histogram
from runlake.media.base import Media
from runlake.media.store import MediaList

_SCALARS = frozenset(t for t in KIND_OF_TYPE if t not in (IntList, FloatList, StrList))

# More numbers than this logged directly become a Histogram, as in wandb.
MAX_LIST = 32
AUTO_BINS = 32  # the bins of such a histogram (wandb's automatic conversion uses 32)

# Nested dicts deeper than this are refused: far below Python's recursion limit, far above
# any real metrics dict. (A dict that contains itself is refused as such.)
MAX_DEPTH = 64


def _shown(key: str) -> str:
    return repr(key) if len(key) <= 200 else repr(key[:197] + "...")


def check_key(key: object, where: str = "") -> str:
    """A history key must be a non-empty str not starting with '_' (reserved)."""
    if type(key) is not str:
        if isinstance(key, str):
            return check_key(str.__str__(key), where)  # a str enum's value, not "E.X"
        raise InvalidKeyError(
            f"log() keys must be strings; got {type(key).__name__} {key!r}{where}: "
            "convert the key with str()"
        )
    if not key:
        raise InvalidNameError(f"log() got an empty key{where}: give every metric a name")
    if key[0] == "_":
        raise InvalidNameError(
            f"log() key {_shown(key)} starts with '_', which runlake reserves for its own "
            "columns (_step, _runtime, _timestamp): rename it"
        )
    if not key.isascii():
        _check_text(key, where)
    if "@" in key:
        _check_suffix(key, where)
    if "\x00" in key:
        raise InvalidNameError(
            f"log() key {_shown(key)}{where} holds a NUL character, which some readers drop and "
            "others fail on: remove it from the name")
    if key in PARTITIONS:
        raise InvalidNameError(
            f"log() key {key!r} is a column every history row already has (the run's "
            f"{', '.join(PARTITIONS)}, from its folder): rename it, e.g. {key + '_'!r}")
    return key


PARTITIONS = ("entity", "project", "run_id")  # the Hive partition columns of history files


# `<key>@<family>` holds the values of another type logged under `<key>` (docs/FORMAT.md,
# schema evolution): a key of that form would take that column's place.
_SIBLING_SUFFIXES = tuple(f"@{f}" for f in ("number", "str", "list", "list_str", "ref"))


def _check_suffix(key: str, where: str = "") -> None:
    if key.endswith(_SIBLING_SUFFIXES):
        base, _, family = key.rpartition("@")
        raise InvalidNameError(
            f"log() key {_shown(key)}{where} ends with '@{family}', which runlake keeps for "
            f"the {family} values logged under {_shown(base)} when that key holds another "
            f"type: rename it (e.g. {_shown(base + '_' + family)})"
        )


def _check_text(key: str, where: str = "") -> None:
    """Column names are UTF-8: a key holding a lone surrogate (bad decoding) is refused."""
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidNameError(
            f"log() key {_shown(key)}{where} is not valid Unicode text (it holds a lone "
            "surrogate, e.g. from decoding bytes with errors='surrogateescape'): decode the "
            "name properly, or use key.encode('utf-8', 'backslashreplace').decode()"
        ) from None


def flatten(data: Mapping[Any, Any], out: dict[str, object], errors: list[Exception]) -> None:
    """Normalise `data` into `out` (flat key -> storable value); bad entries go to `errors`."""
    for key, value in data.items():
        if key == "_step":  # wandb ignores it too: the step is log()'s `step` argument
            continue
        try:
            if (type(key) is not str or not key or key[0] == "_" or not key.isascii() or "@" in key
                    or "\x00" in key or key in PARTITIONS):
                key = check_key(key)
            if type(value) in _SCALARS and key not in out:  # the usual metric, inline
                out[key] = value
            else:
                _put(key, value, out, errors)
        except (InvalidNameError, InvalidValueError) as exc:
            errors.append(exc)


def _put(
    key: str, value: object, out: dict[str, object], errors: list[Exception],
    outer: tuple[int, ...] = (),
) -> None:
    t = type(value)
    if t not in _SCALARS and isinstance(value, Mapping):
        if id(value) in outer:
            raise InvalidValueError(
                f"log() key {_shown(key)}: a dict that contains itself can't be stored; log "
                "its values, not the dict that holds them"
            )
        if len(outer) >= MAX_DEPTH:
            raise InvalidValueError(
                f"log() key {_shown(key)}: dicts nested more than {MAX_DEPTH} levels deep "
                "can't be stored; log a flatter dict"
            )
        outer = (*outer, id(value))
        for sub, sub_value in value.items():
            try:
                if type(sub) is not str or not sub or not sub.isascii():
                    where = f" (inside {_shown(key)})"
                    if type(sub) is str and sub:
                        _check_text(sub, where)  # "_" is fine inside: "a._b" is not reserved
                    else:
                        sub = check_key(sub, where)
                _put(f"{key}.{sub}", sub_value, out, errors, outer)
            except (InvalidNameError, InvalidValueError) as exc:
                errors.append(exc)
        return
    if outer and ("@" in key or "\x00" in key):  # a nested key, checked whole once flattened
        check_key(key)
    if key in out:  # {"a.b": 1, "a": {"b": 2}} or a str enum key beside its value
        raise InvalidNameError(
            f"log() key {_shown(key)} is given twice in one call (a nested dict flattens to the "
            "same name); the first value was kept: rename one of them"
        )
    if t in _SCALARS:
        out[key] = value
        return
    media = media_of(key, value)
    out[key] = media if media is not None else scalar_or_list(key, value)


def media_of(key: str, value: object) -> Media | MediaList | None:
    """The value as a media value to encode, or None if it is not one."""
    if isinstance(value, (Media, MediaList)):
        return value
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], Media):
        if not all(isinstance(v, Media) for v in value):
            raise InvalidValueError(
                f"log() key {_shown(key)}: a list mixing media values with other values "
                "can't be stored; log the media under their own key")
        return MediaList(value)
    if type(value).__module__.startswith(("matplotlib", "plotly")):
        from runlake.media.figures import figure_media  # only for a figure: off log()'s path

        return figure_media(key, value)
    return None


def scalar_or_list(key: str, value: object) -> object:
    """One non-dict value as a storable scalar or list value."""
    module = type(value).__module__
    if module.startswith("torch"):
        value = _torch_to_numpy(key, value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "mM":
            _refuse_datetime(key, value)
        if value.ndim == 0:
            return _scalar(key, value.item())
        if value.size > MAX_LIST and value.dtype.kind in "biuf":
            return _histogram(key, value)
        if value.ndim == 1:
            return to_list(key, value.tolist())
        if value.size <= MAX_LIST and value.dtype.kind in "biufU":
            return nested_array(value)
        raise InvalidValueError(
            f"log() key {key!r}: a numpy array of shape {value.shape} and dtype {value.dtype} "
            f"can't be stored as a history value; arrays of more than one dimension are kept "
            f"when they hold at most {MAX_LIST} numbers or strings: log a scalar, a 1-d array, "
            "or flatten it (`arr.ravel()`)"
        )
    if isinstance(value, (list, tuple)):  # a list stays a list however long (wandb's rule)
        return to_list(key, value)
    return _scalar(key, value)


NESTED = "ndarray"  # the `_type` of a multi-dimensional array's struct (docs/FORMAT.md)


def nested_array(value: np.ndarray) -> Ref:
    """A small array of two or more dimensions (a confusion matrix) as a struct holding its
    nested list: a list column holds one dimension, a struct field any number."""
    return Ref({"_type": NESTED, "shape": list(value.shape), "value": value.tolist()})


def plain_nested(value: Any) -> Any:
    """A value as the summary shows it: a nested array's struct is its nested list."""
    if isinstance(value, Ref) and value.get("_type") == NESTED:
        return value["value"]
    return value


def _histogram(key: str, value: Any) -> Histogram:
    try:
        return Histogram(value, num_bins=AUTO_BINS)
    except InvalidValueError as exc:
        raise InvalidValueError(
            f"log() key {_shown(key)}: more than {MAX_LIST} numbers are logged as a histogram, "
            f"and {exc}") from None


def _scalar(key: str, value: object) -> object:
    if type(value) in _SCALARS:
        return value
    if isinstance(value, np.generic):
        if isinstance(value, (np.datetime64, np.timedelta64)):
            _refuse_datetime(key, value)
        return _scalar(key, value.item())
    # Subclasses of the builtins (IntEnum, str enums, ...) are stored as their base value.
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, str):
        return str.__str__(value)  # the value of a str enum, not its "Mode.TRAIN" form
    if hasattr(type(value), "__float__"):  # Decimal and the like: a float, as the fast path does
        try:
            return float(value)  # type: ignore[arg-type]
        except (ValueError, TypeError, OverflowError) as exc:  # Decimal("sNaN"), ...
            raise InvalidValueError(
                f"log() key {_shown(key)}: the {type(value).__name__} {value!r} can't be made a "
                f"float ({exc}); log float(value) of a value that has one, or str(value)"
            ) from None
    raise InvalidValueError(
        f"log() key {key!r}: values of type {type(value).__module__}.{type(value).__qualname__} "
        "can't be stored in history; log a number, bool, string, None, a list of numbers or "
        "strings, a numpy array, or a dict of these"
    )


def _refuse_datetime(key: str, value: Any) -> None:
    # .item() would give a datetime for some units and an int of nanoseconds for others.
    raise InvalidValueError(
        f"log() key {_shown(key)}: numpy {value.dtype} values can't be stored in history; log "
        "a number (e.g. `t.astype('datetime64[s]').astype(int)` for Unix seconds, "
        "`d / np.timedelta64(1, 's')` for seconds) or a string (`str(t)`)"
    )


def to_list(key: str, items: Any) -> IntList | FloatList | StrList:
    """A list/tuple of numbers or strings (None allowed) as a typed list value."""
    values = []
    has_float = has_num = has_str = False
    for item in items:
        if isinstance(item, np.generic):
            item = item.item()
        if item is None:
            values.append(None)
        elif isinstance(item, str):
            has_str = True
            values.append(str.__str__(item))
        elif isinstance(item, bool):
            has_num = True
            values.append(int(item))
        elif isinstance(item, numbers.Integral):
            has_num = True
            values.append(int(item))
        elif isinstance(item, numbers.Real):
            has_num = has_float = True
            values.append(float(item))
        else:
            raise InvalidValueError(
                f"log() key {key!r}: a list holding {type(item).__name__} can't be stored; "
                "lists may hold numbers or strings (not nested lists or objects)"
            )
    if has_str and has_num:
        raise InvalidValueError(
            f"log() key {key!r}: a list mixing numbers and strings can't be stored; "
            "log them under separate keys"
        )
    if has_str:
        return StrList(values)
    if has_float or not has_num:
        try:
            return FloatList(None if v is None else float(v) for v in values)
        except OverflowError:
            raise InvalidValueError(
                f"log() key {key!r}: a list mixing floats with ints beyond float range can't "
                "be stored; log the ints as strings or under a separate key"
            ) from None
    return IntList(values)


def _torch_to_numpy(key: str, value: Any) -> Any:
    detach = getattr(value, "detach", None)
    if detach is None:
        return value
    try:
        return detach().cpu().numpy()
    except Exception as exc:  # e.g. a meta tensor or an unsupported dtype
        raise InvalidValueError(
            f"log() key {key!r}: can't read the {type(value).__name__} ({exc}); "
            "log `tensor.item()` or `tensor.tolist()` instead"
        ) from exc
