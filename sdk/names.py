"""Run ids and display names, as wandb makes them.

Ids are 8 random characters from [a-z0-9] (URL-safe, ~41 bits); names are two readable words
and the run's number in its project, like "brisk-river-3".
"""

from __future__ import annotations

import secrets
import string

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
