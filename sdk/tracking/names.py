"""Run ids and display names, as wandb makes them.

Ids are 8 random characters from [a-z0-9] (URL-safe, ~41 bits); names are two readable words
and the run's number in its project, like "brisk-river-3".
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable
from typing import Any

from runlake.errors import InvalidValueError

_ID_ALPHABET = string.ascii_lowercase + string.digits

_ADJECTIVES = (
    "amber", "bold", "brisk", "calm", "clever", "crisp", "dainty", "eager", "fancy", "fluent",
    "gentle", "golden", "hardy", "icy", "jolly", "keen", "lively", "lucky", "mellow", "misty",
    "noble", "polar", "proud", "quiet", "rapid", "royal", "rustic", "silent", "sleek", "solar",
    "stellar", "sunny", "swift", "tidy", "vivid", "warm", "wild", "wise", "young", "zesty",
)
_NOUNS = (
    "aurora", "breeze", "brook", "canyon", "cedar", "cloud", "comet", "dawn", "delta", "dune",
    "ember", "field", "fjord", "forest", "frost", "glade", "grove", "harbor", "haze", "lake",
    "leaf", "meadow", "moon", "night", "ocean", "peak", "pine", "plain", "rain", "river",
    "sea", "shadow", "sky", "snow", "spring", "star", "storm", "sun", "wave", "wind",
)


def new_run_id(length: int = 8) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def new_run_name(number: int) -> str:
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{number}"


def check_label(where: str, value: Any) -> str | None:
    """A run's name, group, job type or notes: None or any string, stored as given.

    They are never part of a path (only entity, project and id are, and `validate_name`
    checks those), so `..`, `/`, NUL and long text are harmless and kept.
    """
    if value is not None and not isinstance(value, str):
        raise InvalidValueError(
            f"{where} must be a string, got {type(value).__name__} {value!r}: pass str(value)"
        )
    return value


def check_tags(where: str, value: Any) -> tuple[str, ...]:
    """Tags: a list or tuple (any iterable but a str) of strings, each stored as given."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InvalidValueError(
            f"{where} must be a list of strings, got {type(value).__name__} {value!r}: "
            f"pass [{value!r}] for one tag"
        )
    tags = tuple(value)
    for tag in tags:
        if not isinstance(tag, str):
            raise InvalidValueError(
                f"{where} must be a list of strings; it holds {type(tag).__name__} {tag!r}: "
                "pass str(tag)"
            )
    return tags
