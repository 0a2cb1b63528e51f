"""Posting alerts to a Slack-compatible webhook, off the training thread.

One daemon thread per run posts queued payloads with `requests`, each with a timeout, so a
slow or dead endpoint delays only that thread. A failure is a RuntimeWarning naming the
endpoint's host (never the whole URL: its path or query holds the secret), never an
exception in the caller; a redirect is never followed (it would re-post the alert elsewhere). `close()` waits a bounded time for what is queued, so a short script's last
alert is still sent.
"""

from __future__ import annotations

import queue
import threading
import time
import warnings
from typing import Any
from urllib.parse import urlsplit

_STOP = object()


class WebhookSender:
    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        parts = urlsplit(url)
        self.host = parts.netloc.rpartition("@")[2]  # without user:password@
        # Slack's token is the path; other services put theirs in the query (`?token=`)
        self._secrets = [x for x in (parts.query, parts.path if len(parts.path) > 1 else "") if x]
        self._queue: queue.Queue[Any] = queue.Queue()
        self._idle = threading.Condition()
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def send(self, payload: dict[str, Any], title: str) -> None:
        """Queue one payload; returns at once."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="runlake-webhook",
                                                daemon=True)
                self._thread.start()
        with self._idle:
            self._pending += 1
        self._queue.put((payload, title))

    def close(self, wait: float | None = None) -> bool:
        """Stop after what is queued, waiting at most `wait` seconds (default: one timeout
        per queued post, capped at 3, and a second more); whether everything queued was
        attempted."""
        if self._thread is None:
            return True
        if wait is None:
            with self._idle:
                wait = self.timeout * min(max(self._pending, 1), 3) + 1.0
        self._queue.put(_STOP)
        deadline = time.monotonic() + wait
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def _loop(self) -> None:
        import requests  # core dependency, loaded on the first alert, not at `import runlake`

        session = requests.Session()
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            payload, title = item
            try:
                # Never follow a redirect: a 307/308 would re-post the alert to another host.
                reply = session.post(self.url, json=payload, timeout=self.timeout,
                                     allow_redirects=False)
                if 300 <= reply.status_code < 400:
                    self._report(title, f"HTTP {reply.status_code}: a redirect, which runlake "
                                        "does not follow; configure the final webhook URL")
                elif reply.status_code >= 400:
                    self._report(title, f"HTTP {reply.status_code} {reply.reason or ''}".strip())
            except requests.RequestException as exc:
                self._report(title, f"{type(exc).__name__}: {self._redact(exc)}")
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _redact(self, exc: BaseException) -> str:
        text = str(exc)
        for secret in self._secrets:
            text = text.replace(secret, "...")
        return text if len(text) <= 200 else text[:197] + "..."

    def _report(self, title: str, why: str) -> None:
        warnings.warn(
            f"runlake: alert {title!r} could not be posted to the webhook at {self.host} "
            f"({why}); it is recorded in the run's alerts.jsonl", RuntimeWarning, stacklevel=1,
        )


