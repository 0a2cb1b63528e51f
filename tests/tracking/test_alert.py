"""run.alert(): levels, the title limit of wandb's Run reference, wait_duration, the record in
the store, the printed line, and the webhook, against a real HTTP server on 127.0.0.1 inside
the test."""

from __future__ import annotations

import json
import threading
import warnings
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import runlake
from runlake.engine.alertlog import read_alerts
from tests.helpers import wait_for


class Hook:
    """A webhook endpoint: records each POSTed JSON body; answers `status`, or holds every
    request until `release` is set when `hang` is."""

    def __init__(self, status: int = 200, hang: bool = False, location: str | None = None) -> None:
        self.bodies: list[dict] = []
        self.paths: list[str] = []
        self.answered = 0
        self.release = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                size = int(self.headers.get("Content-Length", 0))
                hook.paths.append(self.path)
                hook.bodies.append(json.loads(self.rfile.read(size)))
                if hang:
                    hook.release.wait(60)
                hook.answered += 1  # before the reply: the client can't have it earlier
                self.send_response(status)
                if location is not None:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        host, port = self.server.server_address[:2]
        self.url = f"http://{host}:{port}/services/T000/B000/secret-token"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    hooks: list[Hook] = []

    def make(**kw: object) -> Hook:
        hooks.append(Hook(**kw))
        return hooks[-1]

    yield make
    for h in hooks:
        h.close()


def test_alert_is_recorded_printed_and_readable(root, capsys):
    with runlake.init(project="p", settings={"root": root}) as run:
        run.log({"acc": 0.2})
        run.alert(title="Low accuracy", text="accuracy 0.2 is below 0.3")
        run.log({"acc": 0.1})
        run.alert("Diverged", "loss is NaN", level=runlake.AlertLevel.ERROR)
        run.alert("Slow", "epoch took 2 h", level="WARN")
    records = read_alerts(run._paths.alerts_file)
    assert [(r["title"], r["level"], r["step"]) for r in records] == [
        ("Low accuracy", "INFO", 1), ("Diverged", "ERROR", 2), ("Slow", "WARN", 2)]
    assert records[0]["text"] == "accuracy 0.2 is below 0.3"
    err = capsys.readouterr().err
    assert "alert [ERROR] Diverged: loss is NaN" in err
    alerts = runlake.Api(root).run(run.path).alerts()
    assert [a["title"] for a in alerts] == ["Low accuracy", "Diverged", "Slow"]
    assert alerts[1]["time"].tzinfo is not None and alerts[1]["wait_duration"] == 60.0


def test_quiet_does_not_print(root, capsys):
    with runlake.init(settings=runlake.Settings(root=root, quiet=True)) as run:
        run.alert("t", "x")
    assert "alert" not in capsys.readouterr().err
    assert len(read_alerts(run._paths.alerts_file)) == 1


def test_module_level_alert(root):
    with pytest.raises(runlake.UsageError, match="init"):
        runlake.alert("t", "x")
    run = runlake.init(settings={"root": root})
    runlake.alert("t", "x", "WARN")
    run.finish()
    assert read_alerts(run._paths.alerts_file)[0]["level"] == "WARN"


def test_wait_duration_suppresses_repeats_of_a_title(root):
    with runlake.init(settings={"root": root}) as run:
        for _ in range(5):
            run.alert("nan", "loss is NaN")  # default: one minute, as wandb
        run.alert("other", "a different title is not suppressed")
        run.alert("nan", "again", wait_duration=timedelta(0))  # window over: sent
        run.alert("short", "x", wait_duration=0)
        run.alert("short", "y", wait_duration=0.0)
        run.alert("long", "x", wait_duration=timedelta(hours=1))
        run.alert("long", "y", wait_duration=3600)
    records = read_alerts(run._paths.alerts_file)
    assert [(r["title"], r["text"], r["suppressed"]) for r in records] == [
        ("nan", "loss is NaN", 0), ("other", "a different title is not suppressed", 0),
        ("nan", "again", 4), ("short", "x", 0), ("short", "y", 0), ("long", "x", 0)]
    assert records[-1]["wait_duration"] == 3600.0


def test_title_limit_from_the_reference(root):
    with runlake.init(settings={"root": root}) as run:
        run.alert("t" * 63, "fits")
        with pytest.raises(runlake.InvalidValueError, match="less than 64 characters"):
            run.alert("t" * 64, "too long")
    assert [r["title"] for r in read_alerts(run._paths.alerts_file)] == ["t" * 63]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"title": 3, "text": "x"}, "title=.*must be a str, got int"),
    ({"title": "  ", "text": "x"}, "empty"),
    ({"title": "t", "text": None}, "text=.*must be a str, got NoneType"),
    ({"title": "t", "text": "x", "level": "LOUD"}, "'INFO', 'WARN' or 'ERROR'.*str 'LOUD'"),
    ({"title": "t", "text": "x", "level": 2}, "level=.*got int"),
    ({"title": "t", "text": "x", "wait_duration": "1m"}, "wait_duration=.*timedelta, got str"),
    ({"title": "t", "text": "x", "wait_duration": True}, "wait_duration=.*got bool"),
    ({"title": "t", "text": "x", "wait_duration": -1}, ">= 0"),
    ({"title": "t", "text": "x", "wait_duration": float("nan")}, ">= 0"),
])
def test_bad_arguments_are_clear_errors(root, kwargs, match):
    with runlake.init(settings={"root": root}) as run:
        run.log({"a": 1})
        with pytest.raises(runlake.InvalidValueError, match=match):
            run.alert(**kwargs)
        run.log({"a": 2})  # the run goes on; nothing was recorded
    assert not run._paths.alerts_file.exists()
    assert len(runlake.Api(root).run(run.path).history(samples=None, format="records")) == 2


def test_alert_after_finish_is_a_usage_error(root):
    run = runlake.init(settings={"root": root})
    run.finish()
    with pytest.raises(runlake.UsageError, match="finished"):
        run.alert("t", "x")


def test_disabled_run_alert_is_a_no_op_that_still_checks(hook, tmp_path):
    h = hook()
    settings = runlake.Settings(alert_webhook=h.url)
    with runlake.init(mode="disabled", settings=settings) as run:
        run.alert("t", "x", level="ERROR")
        with pytest.raises(runlake.InvalidValueError):
            run.alert("t", "x", level="nope")
    assert h.bodies == [] and not (tmp_path / "runlake-store").exists()


def test_webhook_gets_slack_compatible_json(root, hook, monkeypatch):
    h = hook()
    monkeypatch.setenv("RUNLAKE_ALERT_WEBHOOK", h.url)
    with runlake.init(project="p", id="r1", settings={"root": root}) as run:
        run.log({"loss": 1.0})
        run.alert("Low accuracy", "accuracy <0.3> & falling", level="WARN")
    # finish() gives queued posts a bounded time to go out
    assert len(h.bodies) == 1 and h.answered == 1
    body = h.bodies[0]
    # Slack reads <...> as a link or mention: &, < and > are escaped as Slack asks
    assert body["text"] == ":warning: [WARN] Low accuracy: accuracy &lt;0.3&gt; &amp; falling"
    header, section, context = body["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": "[WARN] Low accuracy"}}
    assert section["text"]["text"] == "accuracy &lt;0.3&gt; &amp; falling"
    assert "local/p/r1" in context["elements"][0]["text"]
    assert h.paths == ["/services/T000/B000/secret-token"]


def test_long_text_is_cut_for_slack_blocks_but_whole_in_text(root, hook):
    h = hook()
    text = "x" * 2990 + "&&&&&&&&&&" + "y" * 100
    with runlake.init(settings=runlake.Settings(root=root, alert_webhook=h.url)) as run:
        run.alert("long", text)
    body = h.bodies[0]
    section = body["blocks"][1]["text"]["text"]
    assert len(section) <= 3000 and section.endswith("&amp;...")  # no half entity
    assert body["text"].endswith("&amp;" * 10 + "y" * 100)
    assert read_alerts(run._paths.alerts_file)[0]["text"] == text  # the record is whole


def test_hanging_webhook_never_stalls_the_run(root, hook):
    h = hook(hang=True)
    settings = runlake.Settings(alert_webhook=h.url, alert_timeout=60)
    run = runlake.init(settings=settings.replace(root=root))
    run.alert("stuck", "the endpoint does not answer")
    wait_for("the post to arrive", lambda: h.bodies, 30)
    # alert() has returned, and its post is still in flight (the server holds it)
    assert run._alerts._sender._pending == 1 and h.answered == 0
    for step in range(100):
        run.log({"x": step})  # training goes on
    run.alert("second", "queued behind the first")
    h.release.set()
    run.finish()
    assert [b["blocks"][0]["text"]["text"] for b in h.bodies] == ["[INFO] stuck", "[INFO] second"]
    assert len(runlake.Api(root).run(run.path).history(samples=None, format="records")) == 100


def test_webhook_timeout_is_a_warning(root, hook):
    h = hook(hang=True)
    settings = runlake.Settings(alert_webhook=h.url, alert_timeout=0.2)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with runlake.init(settings=settings.replace(root=root)) as run:
            run.alert("stuck", "x")
        found = wait_for("the timeout warning",
                         lambda: [w for w in seen if "could not be posted" in str(w.message)], 30)
    message = str(found[0].message)
    assert found[0].category is RuntimeWarning
    assert "'stuck'" in message and "Timeout" in message
    assert "secret-token" not in message  # a Slack webhook's path is its secret
    assert read_alerts(run._paths.alerts_file)[0]["title"] == "stuck"


def test_webhook_500_is_a_warning_not_an_error(root, hook):
    h = hook(status=500)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with runlake.init(settings=runlake.Settings(root=root, alert_webhook=h.url)) as run:
            run.alert("t", "x")
            run.log({"a": 1})
    assert h.answered == 1
    [w] = [w for w in seen if "could not be posted" in str(w.message)]
    assert "HTTP 500" in str(w.message) and f"127.0.0.1:{h.server.server_address[1]}" in str(w.message)
    assert "secret-token" not in str(w.message)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirecting_webhook_is_not_followed(root, hook, status):
    """A 307 would re-post the alert body to whatever host the endpoint names."""
    elsewhere = hook()
    h = hook(status=status, location=elsewhere.url)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with runlake.init(settings=runlake.Settings(root=root, alert_webhook=h.url)) as run:
            run.alert("t", "x")
    assert h.answered == 1 and elsewhere.bodies == []
    [w] = [w for w in seen if "could not be posted" in str(w.message)]
    assert f"HTTP {status}" in str(w.message) and "redirect" in str(w.message)


def test_a_token_in_the_query_stays_out_of_the_warning(root):
    """requests names the URL's path and query in a connection error: both are redacted."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    url = f"http://127.0.0.1:{port}/hook?token=s3cr3t-value"
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with runlake.init(settings=runlake.Settings(root=root, alert_webhook=url)) as run:
            run.alert("t", "x")
    [w] = [w for w in seen if "could not be posted" in str(w.message)]
    assert "ConnectionError" in str(w.message)
    assert "s3cr3t" not in str(w.message)


def test_dead_webhook_is_a_warning(root):
    # a port nothing listens on: bind one, note it, close it
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    settings = runlake.Settings(alert_webhook=f"http://127.0.0.1:{port}/hook", alert_timeout=5)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with runlake.init(settings=settings.replace(root=root)) as run:
            run.alert("t", "x")
    assert any("ConnectionError" in str(w.message) for w in seen)
    assert len(read_alerts(run._paths.alerts_file)) == 1


def test_bad_webhook_url_is_a_clear_error(root, monkeypatch):
    with pytest.raises(runlake.InvalidValueError, match="alert_webhook") as e:
        runlake.init(settings=runlake.Settings(root=root, alert_webhook="hooks.slack.com/T0/B0/sec"))
    assert "sec" not in str(e.value).split("got")[1]  # the token stays out of logs
    monkeypatch.setenv("RUNLAKE_ALERT_WEBHOOK", "nope")
    with pytest.raises(runlake.InvalidValueError, match=r"\$RUNLAKE_ALERT_WEBHOOK") as e:
        runlake.init(settings={"root": root})
    monkeypatch.delenv("RUNLAKE_ALERT_WEBHOOK")
    with pytest.raises(runlake.InvalidValueError, match="alert_timeout"):
        runlake.init(settings=runlake.Settings(root=root, alert_timeout=0))


def test_unwritable_store_keeps_alerting(root, hook, capsys):
    h = hook()
    with runlake.init(settings=runlake.Settings(root=root, alert_webhook=h.url)) as run:
        run._paths.alerts_file.mkdir()  # the record cannot be appended
        with pytest.warns(RuntimeWarning, match="could not record alert 'disk'"):
            run.alert("disk", "x")
        run._paths.alerts_file.rmdir()
    assert "alert [INFO] disk: x" in capsys.readouterr().err
    assert len(h.bodies) == 1


def test_a_torn_last_line_is_skipped_and_not_glued_to_the_next(root):
    with runlake.init(project="p", id="r", settings={"root": root}) as run:
        run.alert("one", "x")
    with open(run._paths.alerts_file, "ab") as f:
        f.write(b'{"time": "2026-')  # a writer killed mid-line
    with runlake.init(project="p", id="r", settings={"root": root}, resume="must") as run:
        run.alert("two", "y")
    assert [r["title"] for r in read_alerts(run._paths.alerts_file)] == ["one", "two"]


@pytest.mark.slow
def test_a_script_that_ends_without_finish_still_posts(root, hook):
    import os
    import subprocess
    import sys

    h = hook()
    script = ("import runlake, sys\n"
              "run = runlake.init(settings={'root': sys.argv[1]})\n"
              "run.alert('done', 'the script ends right after this')\n")
    proc = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "RUNLAKE_ALERT_WEBHOOK": h.url})
    assert proc.returncode == 0, proc.stderr
    assert [b["text"] for b in h.bodies] == [":information_source: [INFO] done: the script ends right after this"]
    assert "alert [INFO] done" in proc.stderr
