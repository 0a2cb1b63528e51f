"""The background writer of one run: buffer -> Arrow -> write-ahead log -> Parquet segments.

One daemon thread per run. Every `flush_interval` it takes what the buffer holds and converts
it to Arrow (so the buffer stays small); every `wal_interval` it appends what it converted to
the WAL as one frame; when the current WAL file holds `segment_bytes` of Arrow data it is
compacted into a Parquet segment. `close()` does all of it once more, compacts the rest and
rewrites segments whose column types were widened later in the run. A failing write is kept
as `error`, reported once, and retried; the rows stay in memory, never dropped.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from . import segment
from .buffer import Chunk, HistoryBuffer
from .convert import RunSchema, chunks_to_table, conform, drop_null_columns
from .layout import RunPaths, seq_of
from .wal import WalWriter


@dataclass(frozen=True)
class WriterOptions:
    flush_interval: float = 0.05   # seconds between buffer -> Arrow conversions
    wal_interval: float = 0.5      # seconds between WAL appends: the crash-loss window
    segment_bytes: int = 32 << 20  # Arrow bytes per Parquet segment
    fsync: bool = False
    compact: bool = False          # BYTE_STREAM_SPLIT floats (fastparquet can't read them)


@dataclass(frozen=True)
class WriterStatus:
    rows_logged: int
    rows_durable: int
    rows_compacted: int
    last_flush: float | None
    error: BaseException | None


class RunWriter:
    """Owns a run's buffer drain, WAL and segments while the run is live."""

    def __init__(
        self,
        paths: RunPaths,
        buffer: HistoryBuffer,
        start_time: float,
        options: WriterOptions = WriterOptions(),
        *,
        observer: Callable[[Sequence[Chunk]], None] | None = None,
        on_cycle: Callable[[bool], None] | None = None,
        first_seq: int = 0,
    ) -> None:
        self.paths = paths
        self.buffer = buffer
        self.start_time = start_time
        self.options = options
        self.schema = RunSchema()
        self._observer = observer
        self._on_cycle = on_cycle
        self._drain_lock = threading.Lock()
        self._taken: list[Chunk] = []
        self._pending: list[pa.Table] = []      # converted, not yet in the WAL
        self._wal_tables: list[pa.Table] = []   # in the current WAL file, not yet compacted
        self._wal_nbytes = 0
        self._wal: WalWriter | None = None
        self._seq = first_seq
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._flush_wanted = False
        self._closing = False
        self.rows_durable = 0
        self.rows_compacted = 0
        self.last_flush: float | None = None
        self.error: BaseException | None = None
        self._reported = False
        self._thread = threading.Thread(
            target=self._loop, name=f"runlake-writer-{paths.run_id}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    # -- called from the logging side -------------------------------------------------------

    def drain(self) -> None:
        """Move buffered rows to the writer's intake, folding them into the observer first.

        The observer (the run's summary) sees every chunk exactly once, in logging order.
        """
        with self._drain_lock:
            chunks = self.buffer.take()
            if chunks:
                if self._observer is not None:
                    self._observer(chunks)
                self._taken.extend(chunks)

    def flush(self, timeout: float | None = None) -> bool:
        """Block until every row logged so far is in the WAL; False on timeout or error."""
        target = self.buffer.rows_logged
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flush_wanted = True
            self._wake.set()
            while self.rows_durable < target:
                if self.error is not None or not self._thread.is_alive():
                    break
                left = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
                if left <= 0:
                    break
                self._cond.wait(left)
            return self.rows_durable >= target

    def close(self) -> None:
        """Write everything, compact it into Parquet and stop the thread."""
        self._closing = True
        if self._thread.ident is None:  # never started: do the work here
            self._cycle(final=True)
            return
        self._wake.set()
        self._thread.join()

    def status(self) -> WriterStatus:
        return WriterStatus(
            self.buffer.rows_logged, self.rows_durable, self.rows_compacted,
            self.last_flush, self.error,
        )

    # -- the thread ----------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.options.flush_interval)
            self._wake.clear()
            final = self._closing
            try:
                self._cycle(final=final)
                self.error = None
            except Exception as exc:  # keep the data, report once, retry next cycle
                self.error = exc
                if not self._reported:
                    self._reported = True
                    warnings.warn(
                        f"runlake: writing run {self.paths.run_id} failed ({exc!r}); "
                        f"{self.buffer.rows_logged - self.rows_durable} rows are not yet "
                        "durable and are kept in memory while it retries",
                        RuntimeWarning, stacklevel=1,
                    )
                if final:
                    break
                time.sleep(self.options.flush_interval)
            if final:
                break

    def _cycle(self, final: bool) -> None:
        self.drain()
        with self._drain_lock:
            chunks, self._taken = self._taken, []
        if chunks:
            try:
                self._pending.append(chunks_to_table(chunks, self.schema, self.start_time))
            except Exception:
                with self._drain_lock:
                    self._taken[:0] = chunks
                raise
        now = time.time()
        due = self.last_flush is None or now - self.last_flush >= self.options.wal_interval
        if self._pending and (due or final or self._flush_wanted):
            self._append_wal()
        if self._on_cycle is not None:
            self._on_cycle(final)
        if self._wal_tables and (final or self._wal_nbytes >= self.options.segment_bytes):
            self._compact()
        if final:
            self._rewrite_widened()
            if self._wal is not None:
                self._wal.close()

    def _append_wal(self) -> None:
        # Conversions queued since the last append may predate a widening (x int64, then
        # float64): conform them to the run's current types, or they cannot be concatenated.
        table = self._pending[0] if len(self._pending) == 1 else pa.concat_tables(
            [conform(t, self.schema) for t in self._pending], promote_options="default"
        )
        if self._wal is None:
            self._wal = WalWriter(self.paths.wal_file(self._seq), fsync=self.options.fsync)
        self._wal.append(table)
        self._pending = []
        self._wal_tables.append(table)
        self._wal_nbytes += table.nbytes
        with self._cond:
            self.rows_durable += table.num_rows
            self._flush_wanted = False
            self.last_flush = time.time()
            self._cond.notify_all()

    def _compact(self) -> None:
        tables = [conform(t, self.schema) for t in self._wal_tables]
        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")
        table = drop_null_columns(conform(table, self.schema))
        segment.write_segment(
            table, self.paths.segment_file(self._seq),
            compact=self.options.compact, fsync=self.options.fsync,
        )
        assert self._wal is not None
        self._wal.close()
        self._wal.path.unlink()
        self._wal = None
        self._seq += 1
        self.rows_compacted += table.num_rows
        self._wal_tables = []
        self._wal_nbytes = 0

    def _rewrite_widened(self) -> None:
        """Give every segment the run's final column types (int columns that became float)."""
        if not self.schema.widened:
            return
        for path in segment.list_segments(self.paths.history_dir):
            table = pq.read_table(path)
            fixed = conform(table, self.schema)
            if fixed.schema != table.schema:
                segment.write_segment(fixed, path, compact=self.options.compact)


def next_seq(paths: RunPaths) -> int:
    """The first unused WAL/segment sequence number of a run."""
    used = [seq_of(p) for p in segment.list_segments(paths.history_dir)]
    if paths.wal_dir.is_dir():
        used += [seq_of(p) for p in Path(paths.wal_dir).glob("*.arrows")]
    return max(used, default=-1) + 1
