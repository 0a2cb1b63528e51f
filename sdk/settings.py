"""Settings: what `init()` resolves from its arguments, `Settings(...)` and the environment.

Precedence, highest first: an `init()` argument, a field set in `Settings(...)`, a
`RUNLAKE_*` variable, the same `WANDB_*` variable (so existing scripts keep working), the
default. `run.settings` is a frozen copy.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Literal

from runlake.engine.errors import InvalidValueError, UsageError
from runlake.engine.layout import DEFAULT_ENTITY, DEFAULT_PROJECT
from runlake.engine.writer import WriterOptions
from runlake.query.urls import check_http_url

Mode = Literal["online", "offline", "disabled"]
MODES = ("online", "offline", "disabled")

# init() argument / Settings field -> environment variable suffix (RUNLAKE_x, WANDB_x).
ENV_NAMES = {
    "project": "PROJECT",
    "entity": "ENTITY",
    "mode": "MODE",
    "root": "DIR",
    "run_id": "RUN_ID",
    "name": "NAME",
    "notes": "NOTES",
    "tags": "TAGS",
    "group": "RUN_GROUP",
    "job_type": "JOB_TYPE",
}



@dataclass(frozen=True)
class Settings:
    """Run settings. Every field is optional; unset ones come from the environment.

    >>> import runlake
    >>> runlake.Settings(quiet=True, fsync=True).fsync
    True
    """

    project: str | None = None
    entity: str | None = None
    mode: Mode | None = None
    root: str | None = None
    run_id: str | None = None
    name: str | None = None
    notes: str | None = None
    tags: tuple[str, ...] | None = None
    group: str | None = None
    job_type: str | None = None
    quiet: bool = False
    # The write path (docs/DESIGN.md): loss window, segment size, durability.
    flush_interval: float = WriterOptions.flush_interval
    wal_interval: float = WriterOptions.wal_interval
    segment_bytes: int = WriterOptions.segment_bytes
    fsync: bool = False
    compact_parquet: bool = False
    switch_interval: float | None = WriterOptions.switch_interval
    heartbeat_interval: float = 10.0
    # init(save_code=True): log the entry script as a "code" artifact ($RUNLAKE_SAVE_CODE).
    save_code: bool | None = None
    # Seconds between checks of the files run.save(policy="live") watches.
    file_poll_interval: float = 0.5
    # Links and alerts (sdk/alerts.py): a dashboard serving the store ($RUNLAKE_BASE_URL), and
    # a Slack-compatible webhook every alert is POSTed to ($RUNLAKE_ALERT_WEBHOOK).
    base_url: str | None = None
    alert_webhook: str | None = None
    alert_timeout: float = 10.0  # seconds one webhook POST may take

    def writer_options(self) -> WriterOptions:
        return WriterOptions(
            flush_interval=self.flush_interval,
            wal_interval=self.wal_interval,
            segment_bytes=self.segment_bytes,
            fsync=self.fsync,
            compact=self.compact_parquet,
            switch_interval=self.switch_interval,
        )

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def env(name: str, environ: os._Environ[str] | dict[str, str] | None = None) -> str | None:
    """RUNLAKE_<name>, else WANDB_<name>, else None (empty values count as unset)."""
    environ = os.environ if environ is None else environ
    for prefix in ("RUNLAKE_", "WANDB_"):
        value = environ.get(prefix + name)
        if value:
            return value
    return None


def resolve(settings: Settings | dict[str, Any] | None, **given: Any) -> Settings:
    """Fill a Settings from init() arguments, then the settings passed, then the environment."""
    if settings is None:
        settings = Settings()
    elif isinstance(settings, dict):
        settings = Settings(**settings)
    elif not isinstance(settings, Settings):
        raise InvalidValueError(
            f"settings must be a runlake.Settings or a dict, got {type(settings).__name__}"
        )
    changes: dict[str, Any] = {}
    for name, suffix in ENV_NAMES.items():
        value = given.get(name)
        if value is None:
            value = getattr(settings, name)
        if value is None:
            raw = env(suffix)
            value = _parse_tags(raw) if name == "tags" and raw is not None else raw
        if name == "tags" and value is not None:
            value = tuple(_parse_tags(value) if isinstance(value, str) else value)
        changes[name] = value
    changes["save_code"] = _save_code(given.get("save_code"), settings.save_code)
    mode = changes["mode"] or "online"
    if mode not in MODES:
        raise UsageError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    changes["mode"] = mode
    # RUNLAKE_ only: WANDB_BASE_URL names wandb's API server, which is no dashboard of ours.
    for name, suffix in (("base_url", "BASE_URL"), ("alert_webhook", "ALERT_WEBHOOK")):
        value = getattr(settings, name)
        if value is None:
            value = os.environ.get("RUNLAKE_" + suffix) or None
            where = f"$RUNLAKE_{suffix}"
        else:
            where = f"Settings({name}=...)"
        changes[name] = (None if value is None
                         else check_http_url(where, value, secret=name == "alert_webhook"))
    timeout = settings.alert_timeout
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise InvalidValueError(
            f"Settings(alert_timeout=...) must be a positive number of seconds, got "
            f"{type(timeout).__name__} {timeout!r}"
        )
    changes["project"] = changes["project"] or DEFAULT_PROJECT
    changes["entity"] = changes["entity"] or DEFAULT_ENTITY
    return settings.replace(**changes)


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _save_code(given: Any, field: bool | None) -> bool:
    """init(save_code=...), else Settings(save_code=...), else $RUNLAKE_SAVE_CODE, else off."""
    value = given if given is not None else field
    if value is not None:
        if not isinstance(value, bool):
            raise InvalidValueError(
                f"save_code must be True or False, got {type(value).__name__} {value!r}"
            )
        return value
    raw = env("SAVE_CODE")
    if raw is None:
        return False
    if raw.strip().lower() in _TRUE + _FALSE:
        return raw.strip().lower() in _TRUE
    raise InvalidValueError(
        f"$RUNLAKE_SAVE_CODE (or $WANDB_SAVE_CODE) must be true or false, got {raw!r}"
    )


def _parse_tags(raw: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in raw.split(",") if t.strip())
