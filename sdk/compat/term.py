"""wandb's `termlog`, `termwarn` and `termerror`: one message to stderr, `runlake:` first.

Control characters in the message are escaped (a message cannot move the cursor, clear the
screen or forge another line's prefix); `repeat=False` prints a message once per process.
"""

from __future__ import annotations

import sys
import threading

_seen: set[str] = set()
_lock = threading.Lock()


def _escape(text: str) -> str:
    out = []
    for ch in text:
        code = ord(ch)
        if ch in "\n\t" or not (code < 32 or 127 <= code < 160):
            out.append(ch)
        else:
            out.append(f"\\x{code:02x}")
    return "".join(out)


def _emit(level: str, string: object, newline: bool, repeat: bool, prefix: bool) -> None:
    text = _escape(str(string))
    if not repeat:
        with _lock:
            if text in _seen:
                return
            _seen.add(text)
    head = f"runlake: {level}" if prefix else ""
    lines = text.split("\n")
    body = "\n".join(f"{head}{line}" if prefix else line for line in lines)
    sys.stderr.write(body + ("\n" if newline else ""))
    sys.stderr.flush()


def termlog(string: object = "", newline: bool = True, repeat: bool = True,
            prefix: bool = True) -> None:
    """Print a message to stderr, each line starting with `runlake: `."""
    _emit("", string, newline, repeat, prefix)


def termwarn(string: object, newline: bool = True, repeat: bool = True,
             prefix: bool = True) -> None:
    """termlog with `WARNING ` after the prefix."""
    _emit("WARNING ", string, newline, repeat, prefix)


def termerror(string: object, newline: bool = True, repeat: bool = True,
              prefix: bool = True) -> None:
    """termlog with `ERROR ` after the prefix."""
    _emit("ERROR ", string, newline, repeat, prefix)
