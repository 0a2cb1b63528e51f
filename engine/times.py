"""The one ISO 8601 time format of the store (docs/FORMAT.md, "Run metadata").

Times in run.json, manifests and alert records are UTC with microseconds and a `Z`:
`2026-11-24T13:23:06.414487Z`. `parse_iso` reads every form runlake ever wrote (manifests
once had no microseconds) and any other ISO 8601 UTC offset, such as `+00:00`.
"""

from __future__ import annotations

from datetime import datetime, timezone

FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def iso(ts: float | datetime | None = None) -> str:
    """A Unix time (or an aware datetime; naive ones are taken as UTC; default: now) as ISO."""
    if ts is None:
        when = datetime.now(timezone.utc)
    elif isinstance(ts, datetime):
        when = ts if ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc)
    else:
        when = datetime.fromtimestamp(ts, timezone.utc)
    return when.astimezone(timezone.utc).strftime(FORMAT)


def parse_iso(text: str) -> datetime:
    """An ISO 8601 time as an aware UTC datetime; ValueError if it is not one.

    >>> parse_iso("2026-11-24T13:23:06Z").isoformat()
    '2026-11-24T13:23:06+00:00'
    """
    if not isinstance(text, str):
        raise ValueError(f"not an ISO 8601 time: {text!r}")
    text = text.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:  # runlake writes UTC: a time without an offset is UTC
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def parse_time(value: object) -> float | None:
    """Unix seconds of a stored time, or None if it is missing or not an ISO time."""
    try:
        return parse_iso(value).timestamp()  # type: ignore[arg-type]
    except ValueError:
        return None
