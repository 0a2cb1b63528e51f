"""Applications over both sides of runlake: the `runlake` command line and the demo."""

from runlake.cli.commands import main

__all__ = ["main"]
