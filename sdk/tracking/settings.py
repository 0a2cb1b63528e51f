"""Settings: what `init()` resolves from its arguments, `Settings(...)` and the environment.

Precedence, highest first: an `init()` argument, a field set in `Settings(...)`, a
`RUNLAKE_*` variable, the same `WANDB_*` variable (so existing scripts keep working), the
default. `run.settings` is a frozen copy.

The store root is the exception (engine/layout.py `resolve_root`): `Settings(root=...)`, else
$RUNLAKE_DIR, else `init(dir=X)` / `Settings(root_dir=X)`, else $WANDB_DIR, else the working
directory; a folder X given as dir= or $WANDB_DIR holds the store at X/runlake-store, as
wandb writes X/wandb/.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Literal

from runlake.errors import InvalidSettingError, InvalidValueError, UsageError
from runlake.engine.layout import DEFAULT_ENTITY, DEFAULT_PROJECT, check_root
from runlake.engine.writer import WriterOptions
from runlake.engine.urls import check_http_url

Mode = Literal["online", "offline", "disabled"]
MODES = ("online", "offline", "disabled")
# wandb's older spellings: "dryrun" is offline (Lightning's WandbLogger(offline=True) sets
# $WANDB_MODE=dryrun), "run" is online.
MODE_ALIASES = {"dryrun": "offline", "run": "online"}
Reinit = Literal["default", "return_previous", "finish_previous", "create_new"]
REINITS = ("default", "return_previous", "finish_previous", "create_new")
# wandb's `console` values. runlake tees Python's sys.stdout/sys.stderr for all but "off"
# (docs/DESIGN.md, "Monitor": no file-descriptor redirection).
Console = Literal["auto", "off", "wrap", "redirect", "wrap_raw", "wrap_emu"]
CONSOLES = ("auto", "off", "wrap", "redirect", "wrap_raw", "wrap_emu")
SYSTEM_METRICS_INTERVAL = 10.0  # seconds between system samples (wandb: 10 s, newer 15 s)
MIN_INTERVAL = 0.01

# init() argument / Settings field -> environment variable suffix (RUNLAKE_x, WANDB_x).
ENV_NAMES = {
    "project": "PROJECT",
    "entity": "ENTITY",
    "mode": "MODE",
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
    # The store root itself; root_dir (wandb's name, set by init(dir=...)) is a folder the
    # store lives under. Their order with the environment: the module docstring.
    root: str | None = None
    root_dir: str | None = None
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
    # System metrics and console capture (sdk/tracking/monitors.py); unset ones come from
    # $RUNLAKE_SYSTEM_METRICS, $RUNLAKE_SYSTEM_METRICS_INTERVAL and $RUNLAKE_CONSOLE (or WANDB_),
    # and wandb's spellings `x_disable_stats` / `x_stats_sampling_interval` are aliases.
    system_metrics: bool | None = None
    system_metrics_interval: float | None = None
    console: Console | None = None
    x_disable_stats: bool | None = None
    x_stats_sampling_interval: float | None = None
    # init(save_code=True): log the entry script as a "code" artifact ($RUNLAKE_SAVE_CODE).
    save_code: bool | None = None
    # Seconds between checks of the files run.save(policy="live") watches.
    file_poll_interval: float = 0.5
    # Links and alerts (sdk/tracking/alerts.py): a dashboard serving the store
    # ($RUNLAKE_BASE_URL), and a Slack-compatible webhook every alert is POSTed to
    # ($RUNLAKE_ALERT_WEBHOOK).
    base_url: str | None = None
    alert_webhook: str | None = None
    alert_timeout: float = 10.0  # seconds one webhook POST may take
    # wandb's names: run_name is `name` (either sets both); reinit is init(reinit=...)'s
    # default. start_method and init_timeout are accepted and unused: nothing runs in another
    # process, so nothing is started or waited for. silent is `quiet`.
    run_name: str | None = None
    reinit: bool | Reinit | None = None
    start_method: str | None = None
    init_timeout: float | None = None
    silent: bool | None = None

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
        if name == "name" and value is None:
            value = settings.run_name
        changes[name] = value
    changes["run_name"] = changes["name"]
    # Checked here too, so that a disabled run refuses a URI.
    if settings.root is not None:
        changes["root"] = check_root(settings.root, "Settings(root=...)")
    root_dir = given.get("root_dir")
    if root_dir is not None or settings.root_dir is not None:
        where = "init(dir=...)" if root_dir is not None else "Settings(root_dir=...)"
        changes["root_dir"] = check_root(root_dir if root_dir is not None else settings.root_dir,
                                         where)
    if settings.silent is not None:
        changes["quiet"] = bool(settings.quiet or settings.silent)
    changes["save_code"] = _save_code(given.get("save_code"), settings.save_code)
    mode = changes["mode"] or "online"
    mode = MODE_ALIASES.get(mode, mode) if isinstance(mode, str) else mode
    if mode not in MODES:
        raise InvalidSettingError(
            f"mode must be one of {', '.join(MODES)} (or wandb's \"dryrun\", which is offline); "
            f"got {type(mode).__name__} {mode!r}"
        )
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
    changes.update(_monitoring(settings))
    return settings.replace(**changes)


def _monitoring(s: Settings) -> dict[str, Any]:
    """system_metrics, its interval and console: the field, its wandb alias, the environment."""
    on = s.system_metrics
    if on is None and s.x_disable_stats is not None:
        on = not _flag("x_disable_stats", s.x_disable_stats)
    if on is None and (raw := env("SYSTEM_METRICS")) is not None:
        on = _flag("$RUNLAKE_SYSTEM_METRICS", raw)
    if on is None and (raw := env("X_DISABLE_STATS")) is not None:
        on = not _flag("$WANDB_X_DISABLE_STATS", raw)
    on = True if on is None else _flag("system_metrics", on)
    interval = s.system_metrics_interval
    name = "system_metrics_interval"
    for field_name, value in (("x_stats_sampling_interval", s.x_stats_sampling_interval),
                              ("$RUNLAKE_SYSTEM_METRICS_INTERVAL", env("SYSTEM_METRICS_INTERVAL")),
                              ("$WANDB_X_STATS_SAMPLING_INTERVAL", env("X_STATS_SAMPLING_INTERVAL"))):
        if interval is None and value is not None:
            interval, name = value, field_name
    interval = SYSTEM_METRICS_INTERVAL if interval is None else _seconds(name, interval)
    console = s.console if s.console is not None else env("CONSOLE") or "auto"
    if console not in CONSOLES:
        raise UsageError(
            f"console must be one of {', '.join(CONSOLES)}; got {console!r} "
            "(\"off\" turns console capture off)"
        )
    return {"system_metrics": on, "x_disable_stats": not on, "system_metrics_interval": interval,
            "x_stats_sampling_interval": interval, "console": console}


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise InvalidValueError(
        f"{name} must be a bool (or one of {'/'.join(_TRUE + _FALSE)} in the environment), "
        f"got {type(value).__name__} {value!r}"
    )


def _seconds(name: str, value: Any) -> float:
    try:
        seconds = float(value) if not isinstance(value, bool) else float("nan")
    except (TypeError, ValueError):
        seconds = float("nan")
    if not MIN_INTERVAL <= seconds < float("inf"):  # below it the sampler would spin
        raise InvalidValueError(
            f"{name} must be a number of seconds >= {MIN_INTERVAL}, got "
            f"{type(value).__name__} {value!r}"
        )
    return seconds


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
