"""`Run.alert()`: record an alert in the store, print it, and post it to a webhook.

Each alert that fires is appended to the run's `alerts.jsonl` (engine/alertlog.py; readable
with `Api().run(path).alerts()` and the SQL view `alerts`), printed to stderr (unless
`Settings(quiet=True)`) and, when a webhook is configured (`Settings(alert_webhook=...)` or
$RUNLAKE_ALERT_WEBHOOK), posted as Slack-compatible JSON from a background thread
(sdk/tracking/webhook.py). None of it touches `log()`'s path: alert() takes no lock log() takes.

`wait_duration` (seconds, or a timedelta; default 60 s as in wandb) suppresses an alert whose
title fired less than that long ago: it is not printed, posted or recorded, and the next
record of that title counts how many were suppressed before it.
"""

from __future__ import annotations

import enum
import sys
import threading
import time
import warnings
from datetime import timedelta
from typing import Any

from runlake.engine.alertlog import AlertLog
from runlake.engine.times import iso
from runlake.errors import InvalidValueError

from runlake.tracking.handle import RunHandle
from runlake.tracking.webhook import WebhookSender

TITLE_LIMIT = 64  # wandb's Run reference: a title "must be less than 64 characters"
DEFAULT_WAIT = 60.0  # wandb's default wait_duration: one minute
_SLACK_TEXT = 3000  # Slack's limit for a section block's text


class AlertLevel(str, enum.Enum):
    """An alert's level, as wandb's `wandb.AlertLevel`.

    >>> import runlake
    >>> runlake.AlertLevel("WARN") is runlake.AlertLevel.WARN
    True
    """

    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


def check_level(level: Any) -> AlertLevel:
    if level is None:
        return AlertLevel.INFO
    if isinstance(level, AlertLevel):
        return level
    if isinstance(level, str) and level.upper() in AlertLevel.__members__:
        return AlertLevel[level.upper()]
    raise InvalidValueError(
        f"alert(level=...) must be 'INFO', 'WARN' or 'ERROR' (or a runlake.AlertLevel), got "
        f"{type(level).__name__} {level!r}"
    )


def check_wait(wait_duration: Any) -> float:
    """Seconds from an int, float or timedelta; None is wandb's one minute."""
    if wait_duration is None:
        return DEFAULT_WAIT
    if isinstance(wait_duration, timedelta):
        seconds = wait_duration.total_seconds()
    elif isinstance(wait_duration, (int, float)) and not isinstance(wait_duration, bool):
        seconds = float(wait_duration)
    else:
        raise InvalidValueError(
            f"alert(wait_duration=...) must be seconds (an int or float) or a "
            f"datetime.timedelta, got {type(wait_duration).__name__} {wait_duration!r}"
        )
    if not seconds >= 0 or seconds == float("inf"):
        raise InvalidValueError(
            f"alert(wait_duration=...) must be a finite number of seconds >= 0, got {wait_duration!r}"
        )
    return seconds


def check_text(title: Any, text: Any) -> tuple[str, str]:
    if not isinstance(title, str):
        raise InvalidValueError(f"alert(title=...) must be a str, got {type(title).__name__}")
    if not title.strip():
        raise InvalidValueError("alert(title=...) is empty: give the alert a short title")
    if len(title) >= TITLE_LIMIT:
        raise InvalidValueError(
            f"alert(title=...) must be less than {TITLE_LIMIT} characters, got {len(title)} "
            f"({title[:20]!r}...): shorten it and put the details in `text`"
        )
    if not isinstance(text, str):
        raise InvalidValueError(f"alert(text=...) must be a str, got {type(text).__name__}")
    return title, text


class Alerts:
    """One run's alert state: last time per title, the log file and the webhook sender."""

    def __init__(self, run: RunHandle) -> None:
        self._run = run
        paths = run.paths
        self._log = AlertLog(paths.alerts_file) if paths is not None else None
        s = run.settings
        self._sender = (WebhookSender(s.alert_webhook, s.alert_timeout)
                        if s.alert_webhook and paths is not None else None)
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}  # title -> monotonic time it last fired
        self._suppressed: dict[str, int] = {}

    def alert(self, title: Any, text: Any, level: Any = None, wait_duration: Any = None) -> None:
        title, text = check_text(title, text)
        lvl = check_level(level)
        wait = check_wait(wait_duration)
        run = self._run
        run.require_live("alert()")
        if self._log is None:  # mode="disabled": a no-op once the arguments are checked
            return
        now = time.monotonic()
        with self._lock:
            last = self._last.get(title)
            if last is not None and now - last < wait:
                self._suppressed[title] = self._suppressed.get(title, 0) + 1
                return
            self._last[title] = now
            suppressed = self._suppressed.pop(title, 0)
        stamp = time.time()
        record = {
            "time": iso(stamp),
            "timestamp": stamp, "step": run.step, "level": lvl.value, "title": title,
            "text": text, "wait_duration": wait, "suppressed": suppressed,
        }
        try:
            self._log.append(record)
        except OSError as exc:  # a full or read-only store must not stop training
            warnings.warn(
                f"runlake: could not record alert {title!r} in {self._log.path} "
                f"({type(exc).__name__}: {exc}); it is still printed and posted",
                RuntimeWarning, stacklevel=3,
            )
        if not run.settings.quiet:
            print(f"runlake: alert [{lvl.value}] {title}: {text}", file=sys.stderr)
        if self._sender is not None:
            self._sender.send(slack_payload(run, record), title)

    def close(self) -> None:
        """Give queued webhook posts a bounded time to go out (at finish or detach)."""
        if self._sender is not None:
            self._sender.close()


_EMOJI = {"INFO": ":information_source:", "WARN": ":warning:", "ERROR": ":rotating_light:"}


def slack_payload(run: RunHandle, record: dict[str, Any]) -> dict[str, Any]:
    """Slack's incoming-webhook JSON: `text` (what plain endpoints and notifications show)
    and blocks with the title, the text and where it came from. Slack reads `<...>` in text
    as links and mentions, so user text has &, < and > escaped, as Slack asks."""
    level, title, text = record["level"], record["title"], record["text"]
    where = f"run `{_slack(run.path)}` ({_slack(str(run.name))}), step {record['step']}"
    url = run.url()
    if url is not None:
        where += f" <{_slack(url)}|open>"
    if record["suppressed"]:
        where += f", {record['suppressed']} repeats suppressed"
    body = _slack(text)
    if len(body) > _SLACK_TEXT:
        cut = body[: _SLACK_TEXT - 3]
        amp = cut.rfind("&")
        if amp != -1 and ";" not in cut[amp:]:  # not half an entity
            cut = cut[:amp]
        body = cut + "..."
    return {
        "text": f"{_EMOJI[level]} [{level}] {_slack(title)}: {_slack(text)}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": f"[{level}] {title}"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body or " "}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": where}]},
        ],
    }


def _slack(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
