"""Links to a dashboard: a run is local and has no URL until a dashboard base URL is set.

wandb says an offline run has no url; runlake's runs are all local, so `url` is None unless
a base URL is configured (`Settings(base_url=...)` or $RUNLAKE_BASE_URL, for whatever serves
the store: a notebook server, an internal dashboard). Then the links have wandb's shape:

    >>> run_url("https://dash.example.com/", "team", "mnist", "1a2b3c4d")
    'https://dash.example.com/team/mnist/runs/1a2b3c4d'
"""

from __future__ import annotations

import os
from urllib.parse import quote, urlsplit

from runlake.errors import InvalidValueError

BASE_URL_ENV = "RUNLAKE_BASE_URL"  # not WANDB_BASE_URL: that is wandb's API server, not a dashboard


def check_http_url(what: str, value: object, *, secret: bool = False) -> str:
    """`value` if it is an absolute http(s) URL, else a clear InvalidValueError (which does
    not repeat a `secret` one: a webhook URL holds its token)."""
    if not isinstance(value, str):
        raise InvalidValueError(f"{what} must be a string URL, got {type(value).__name__}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidValueError(
            f"{what} must be an absolute http:// or https:// URL, got "
            + (f"one starting {value[:8]!r}" if secret else repr(value))
        )
    return value


def base_url(configured: str | None = None) -> str | None:
    """The dashboard base URL: the one given, else $RUNLAKE_BASE_URL, else None."""
    value = configured if configured is not None else os.environ.get(BASE_URL_ENV) or None
    if value is None:
        return None
    return check_http_url(
        "the dashboard base URL" if configured is not None else f"${BASE_URL_ENV}", value
    ).rstrip("/")


def project_url(base: str | None, entity: str, project: str) -> str | None:
    if base is None:
        return None
    return f"{base.rstrip('/')}/{quote(entity, safe='')}/{quote(project, safe='')}"


def run_url(base: str | None, entity: str, project: str, run_id: str) -> str | None:
    prefix = project_url(base, entity, project)
    return None if prefix is None else f"{prefix}/runs/{quote(run_id, safe='')}"


def sweep_url(base: str | None, entity: str, project: str, sweep_id: str | None) -> str | None:
    prefix = project_url(base, entity, project)
    if prefix is None or sweep_id is None:
        return None
    return f"{prefix}/sweeps/{quote(sweep_id, safe='')}"
