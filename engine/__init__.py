"""runlake's storage engine: buffering, the write-ahead log, Parquet segments, run metadata.

It speaks Arrow, paths and run ids; it knows nothing of the Run API. docs/FORMAT.md is the
contract it writes, and `layout` is the module that owns it.
"""

from .buffer import HistoryBuffer
from .layout import FORMAT_VERSION, RunPaths, resolve_root, validate_name
from .meta import RunMeta
from .writer import RunWriter, WriterOptions, WriterStatus

__all__ = [
    "FORMAT_VERSION",
    "HistoryBuffer",
    "RunMeta",
    "RunPaths",
    "RunWriter",
    "WriterOptions",
    "WriterStatus",
    "resolve_root",
    "validate_name",
]
