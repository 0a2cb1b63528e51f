"""to_html(), _repr_html_ and display(): a self-contained, escaped HTML card of the run;
display() is False outside a notebook kernel and shows the card inside a real one."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from html.parser import HTMLParser

import pytest

import runlake


class Card(HTMLParser):
    """Parses the card: its tags, visible text, and the sparklines' points."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.polylines: list[list[tuple[float, float]]] = []
        self.labels: list[str] = []
        self.styles: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        a = dict(attrs)
        if a.get("style"):
            self.styles.append(a["style"])
        if tag == "polyline":
            pts = [p.split(",") for p in (a["points"] or "").split()]
            self.polylines.append([(float(x), float(y)) for x, y in pts])
        if tag == "svg":
            self.labels.append(a["aria-label"] or "")

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())


def test_card_has_name_state_config_summary_and_sparklines(root):
    run = runlake.init(project="p", settings={"root": root}, name="resnet-50",
                       config={"lr": 0.01, "opt": {"name": "adam"}})
    for i in range(300):
        run.log({"loss": 1.0 / (i + 1), "acc": i / 300, "phase": "train"})
    card = Card(run.to_html())
    assert "resnet-50" in card.text and "running" in card.text
    assert {"lr", "0.01", "opt.name", "adam", "Summary", "Config", "phase", "train"} <= set(card.text)
    assert card.labels == ["loss", "acc"]  # the numeric summary keys, not the string one
    loss, acc = card.polylines
    assert 2 <= len(loss) <= 120
    # an SVG's y grows downwards: a falling loss ends low on the page, a rising acc high
    assert loss[0][1] < loss[-1][1] and acc[0][1] > acc[-1][1]
    assert loss[0][0] < loss[-1][0]
    assert "script" not in card.tags and "iframe" not in card.tags  # self-contained
    run.finish()
    assert "finished" in Card(run.to_html()).text
    assert run._repr_html_() == run.to_html()


def test_user_strings_are_escaped(root):
    evil = '<img src=x onerror="alert(1)">'
    run = runlake.init(project="p", settings={"root": root}, name=evil, config={evil: evil})
    run.log({evil: 1.0})
    run.log({evil: 2.0, "s": evil})
    text = run.to_html()
    assert "<img" not in text and "onerror=\"" not in text
    card = Card(text)
    assert "img" not in card.tags
    assert card.text.count(evil) >= 4  # name, config key and value, summary key, sparkline label...
    assert card.labels == [evil]
    run.finish()


def test_height_and_hidden(root):
    run = runlake.init(settings={"root": root})
    run.log({"a": 1})
    assert "max-height:300px" in Card(run.to_html(height=300)).styles[0]
    assert "display:none" not in run.to_html()
    assert "display:none" in Card(run.to_html(hidden=True)).styles[0]
    with pytest.raises(runlake.InvalidValueError, match="height must be a positive int"):
        run.to_html(height="tall")
    with pytest.raises(runlake.InvalidValueError, match="hidden must be a bool"):
        run.display(hidden="yes")
    run.finish()


def test_nonfinite_and_sparse_values(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"x": float("nan")})
        run.log({"x": 1.0, "once": 5})
        run.log({"x": float("inf")})
        run.log({"x": 3.0})
    card = Card(run.to_html())
    assert card.labels == ["x", "once"]
    x, once = card.polylines
    assert [p[0] for p in x] == [1.0, 159.0]  # steps 1 and 3; NaN and inf left out
    assert len(once) == 1


def test_media_in_the_summary_is_one_row(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"h": runlake.Histogram(np_histogram=([1, 2], [0.0, 0.5, 1.0])), "loss": 0.5})
    card = Card(run.to_html())
    assert "histogram" in card.text and "h" in card.text
    assert not any(t.startswith(("h.", "h._type")) for t in card.text)
    assert card.labels == ["loss"]


def test_disabled_run_card():
    with runlake.init(mode="disabled", name="off") as run:
        run.log({"a": 1})
        card = Card(run.to_html())
        assert "off" in card.text and "disabled" in card.text
        assert run.display() is False


def test_display_is_false_outside_a_notebook(root):
    with runlake.init(settings={"root": root}) as run:
        run.log({"a": 1})
        assert run.display() is False
        assert run.display(height=100, hidden=True) is False


_KERNEL = textwrap.dedent('''
    import json, sys
    from ipykernel.inprocess.manager import InProcessKernelManager

    km = InProcessKernelManager()
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    out = []
    for code in sys.argv[1:]:
        kc.execute(code)
        while True:
            msg = kc.get_iopub_msg(timeout=60)
            kind, content = msg["msg_type"], msg["content"]
            if kind in ("display_data", "execute_result"):
                out.append({"kind": kind, "html": content["data"].get("text/html")})
            elif kind == "stream":
                out.append({"kind": "stream", "text": content["text"]})
            elif kind == "error":
                out.append({"kind": "error", "text": content["evalue"]})
            elif kind == "status" and content["execution_state"] == "idle":
                break
    print("RESULT" + json.dumps(out))
''')


@pytest.mark.slow
def test_display_inside_a_real_kernel(tmp_path):
    pytest.importorskip("ipykernel", reason="ipykernel is in the 'test' extra")
    cells = [
        f"import runlake\nrun = runlake.init(dir={str(tmp_path / 'store')!r}, name='nb-run')\n"
        "run.log({'loss': 0.5})\nrun.log({'loss': 0.25})",
        "print('shown', run.display(height=250))",
        "run",  # the last expression: Jupyter shows its _repr_html_
        "run.finish()",
    ]
    proc = subprocess.run([sys.executable, "-c", _KERNEL, *cells], capture_output=True,
                          text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.split("RESULT", 1)[1])
    assert not [o for o in out if o["kind"] == "error"], out
    shown, printed, result = out
    assert shown["kind"] == "display_data" and "nb-run" in shown["html"]
    assert "max-height:250px" in shown["html"]
    assert printed == {"kind": "stream", "text": "shown True\n"}
    assert result["kind"] == "execute_result" and re.search(r"<polyline[^>]+points=", result["html"])
