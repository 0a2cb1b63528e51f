"""`runlake.Html`: an HTML page logged as a file under media/html/.

>>> import runlake
>>> runlake.Html("<h1>hi</h1>", inject=False).html
'<h1>hi</h1>'

With `inject=True` (the default, as in wandb) runlake adds to the page's head what a viewer
needs to show it in a frame: a UTF-8 charset and `<base target="_blank">` so links open
outside it. (wandb injects a stylesheet from its servers; a local store links to none.)
"""

from __future__ import annotations

import os
import re
from typing import Any

from runlake.errors import InvalidValueError

from runlake.media.base import Media, MediaContext

INJECTED = '<meta charset="utf-8"><base target="_blank">'
_HEAD = re.compile(r"<head[^>]*>", re.IGNORECASE)
_HTML = re.compile(r"<html[^>]*>", re.IGNORECASE)


class Html(Media):
    """HTML text, a file object, or the path of a `.html` file."""

    _log_type = "html-file"
    _folder = "html"

    def __init__(self, data: Any, inject: bool = True) -> None:
        if hasattr(data, "read"):
            data = data.read()
        elif isinstance(data, os.PathLike) or (
            isinstance(data, str) and data.lower().endswith((".html", ".htm"))
            and os.path.isfile(data)
        ):
            with open(data, encoding="utf-8") as f:
                data = f.read()
        if isinstance(data, bytes):
            data = data.decode("utf-8", "replace")
        if not isinstance(data, str):
            raise InvalidValueError(
                f"Html takes a string, a file object or a .html path, got {type(data).__name__}")
        self.html = inject_head(data) if inject else data

    def _encode(self, ctx: MediaContext) -> tuple[bytes | None, str, dict[str, Any]]:
        return self.html.encode("utf-8", "backslashreplace"), ".html", {}

    def __repr__(self) -> str:
        return f"Html({len(self.html)} characters)"


def inject_head(html: str) -> str:
    """`html` with INJECTED at the start of its head (a head is made if it has none)."""
    head = _HEAD.search(html)
    if head is not None:
        return html[: head.end()] + INJECTED + html[head.end():]
    page = _HTML.search(html)
    if page is not None:
        return html[: page.end()] + f"<head>{INJECTED}</head>" + html[page.end():]
    return f"<head>{INJECTED}</head>{html}"
