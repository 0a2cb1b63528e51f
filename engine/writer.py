"""The background writer of one run: buffer -> Arrow -> write-ahead log -> Parquet segments.

One daemon thread per run. Every `flush_interval` it takes what the buffer holds and converts
it to Arrow (so the buffer stays small). Every `wal_interval`, or sooner once `frame_bytes`
are waiting, it appends what it converted to the WAL as one frame and streams the same rows
into the open Parquet segment (engine/segment.SegmentWriter). When the WAL file holds
`segment_bytes`, the segment is published and the WAL file deleted. So memory holds about a
frame and a row group, whatever the run's length. `close()` does it all once more, publishes
the last segment and rewrites segments whose column types were widened later in the run.
A failing write (disk full, read-only store) is kept as `error`, reported once as a warning
that says which steps are only in memory, and retried with a growing pause (at most
`RETRY_MAX` seconds); the rows stay in memory and nothing durable is touched. `close()` tries
the last cycle `FINAL_TRIES` times, then gives up: `error_report()` says what was not written.
"""

from __future__ import annotations

import sys
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
from .keys import KeyFamilies
from .convert import RunSchema, chunks_to_table, conform, drop_null_columns
from .media_files import FileQueue
from .layout import STEP, RunPaths, seq_of
from .kinds import NULL, family
from .wal import WalWriter, read_frames

RETRY_MAX = 2.0   # seconds: the longest pause between retries of a failing write
FINAL_TRIES = 3   # attempts of the last cycle at close before its error is given up on


@dataclass(frozen=True)
class WriterOptions:
    flush_interval: float = 0.05   # seconds between buffer -> Arrow conversions
    wal_interval: float = 0.5      # seconds between WAL appends: the crash-loss window
    segment_bytes: int = 64 << 20  # WAL bytes (about Arrow bytes) per Parquet segment
    frame_bytes: int = 4 << 20     # converted bytes that trigger a WAL append before wal_interval
    fsync: bool = False
    compact: bool = False          # BYTE_STREAM_SPLIT floats (fastparquet can't read them)
    # Backpressure: once a row has waited this long for the writer to take it, log() waits for
    # the next take (engine/buffer.py). With wal_interval it bounds the crash-loss window
    # whatever the logging rate; None turns it off.
    max_lag: float | None = 0.25
    # The GIL switch interval while runs are live (None: leave it). A training loop holds the
    # GIL; at Python's default 5 ms the writer waits that long after every I/O call, falls
    # behind and the buffer grows (docs/DESIGN.md, "The writer thread").
    switch_interval: float | None = 0.0005


class _SwitchInterval:
    """Lowers the GIL switch interval while any writer runs; restores it after the last."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved: float | None = None

    def acquire(self, wanted: float | None) -> None:
        if wanted is None:
            return
        with self._lock:
            self._users += 1
            if self._users == 1 and sys.getswitchinterval() > wanted:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(wanted)

    def release(self, wanted: float | None) -> None:
        if wanted is None:
            return
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._saved is not None:
                if sys.getswitchinterval() == wanted:  # unless someone else changed it since
                    sys.setswitchinterval(self._saved)
                self._saved = None


_switch_interval = _SwitchInterval()


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
        files: FileQueue | None = None,
    ) -> None:
        self.paths = paths
        self.files = files  # media files the buffered rows refer to (engine/media_files.py)
        self.buffer = buffer
        self.start_time = start_time
        self.options = options
        self.schema = RunSchema()
        self.keys = KeyFamilies(paths.root)
        self._observer = observer
        self._on_cycle = on_cycle
        self._drain_lock = threading.Lock()
        self._taken: list[Chunk] = []
        self._pending: list[pa.Table] = []      # converted, not yet in the WAL
        self._pending_bytes = 0
        self._wal: WalWriter | None = None
        self._segment: segment.SegmentWriter | None = None
        self._rebuild = False  # the streamed segment failed: compact the WAL file instead
        self._seq = first_seq
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._flush_wanted = False
        self._closing = False
        self.rows_durable = 0
        self.rows_compacted = 0
        self.last_flush: float | None = None
        self.error: BaseException | None = None
        self._reported = 0  # what the last warning said: 1 history is durable, 2 it is not
        self._in_history = True  # whether the last failure was in history (else run.json)
        self._thread = threading.Thread(
            target=self._loop, name=f"runlake-writer-{paths.run_id}", daemon=True
        )

    def start(self) -> None:
        _switch_interval.acquire(self.options.switch_interval)
        if self.files is not None:
            self.files.start(self.paths.files_dir, fsync=self.options.fsync)
        self.buffer.throttle(self.options.max_lag)
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
            while self.rows_durable < target:
                if self.error is not None or not self._thread.is_alive():
                    break
                left = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
                if left <= 0:
                    break
                # Ask again each time: an append already under way may not hold our rows.
                self._flush_wanted = True
                self._wake.set()
                self._cond.wait(left)
            return self.rows_durable >= target

    def close(self) -> None:
        """Write everything, compact it into Parquet and stop the thread."""
        self._closing = True
        self.buffer.throttle(None)  # nothing waits for a writer that is stopping
        if self._thread.ident is None:  # never started: do the work here
            self._cycle(final=True)
            return
        self._wake.set()
        self._thread.join()
        if self.files is not None:
            self.files.close()
        _switch_interval.release(self.options.switch_interval)
        if self.error is not None:  # given up: let go of the files (their frames stay valid)
            self._drop_segment()
            if self._wal is not None:
                try:
                    self._wal.close()
                except OSError:
                    pass

    def status(self) -> WriterStatus:
        return WriterStatus(
            self.buffer.rows_logged, self.rows_durable, self.rows_compacted,
            self.last_flush, self.error,
        )

    # -- the thread ----------------------------------------------------------------------------

    def _loop(self) -> None:
        delay = self.options.flush_interval
        final_tries = 0
        while True:
            self._wake.wait(delay)
            self._wake.clear()
            final = self._closing
            try:
                self._cycle(final=final)
            except Exception as exc:  # keep the data, report once, retry
                self.error = exc
                self.buffer.throttle(None)  # training goes on while the write is retried
                # Once per failure, and again only if rows that were durable become memory-only.
                report = self.error_report()
                level = 2 if self._memory_only() else 1
                quiet = final and not self._in_history  # run.json at close: the caller's to say
                if report is not None and level > self._reported and not quiet:
                    self._reported = level
                    warnings.warn(report, RuntimeWarning, stacklevel=1)
                if final:
                    final_tries += 1
                    if final_tries >= FINAL_TRIES:
                        break
                else:  # a full disk stays full for a while: don't rewrite the backlog every 50 ms
                    delay = min(2 * delay, RETRY_MAX)
                continue
            delay = self.options.flush_interval
            if self.error is not None:
                self.error = None
                if not self._closing:
                    self.buffer.throttle(self.options.max_lag)
                if self._reported:  # a later failure is reported again
                    self._reported = 0
                    warnings.warn(
                        f"runlake: writing run {self._name} works again; the rows kept in "
                        "memory are being written", RuntimeWarning, stacklevel=1,
                    )
            if final:
                break

    @property
    def _name(self) -> str:
        return f"{self.paths.entity}/{self.paths.project}/{self.paths.run_id}"

    def error_report(self) -> str | None:
        """The current write error and what it left unwritten, as one line.

        None without an error, and at close once every row is in Parquet (a failed run.json
        write is then left to the caller, which writes run.json last).
        """
        exc = self.error
        if exc is None:
            return None
        first = self._first_unwritten_step()
        if self._closing and not self._thread.is_alive():  # given up
            if first is not None:
                left = (f"{self.buffer.rows_logged - self.rows_durable} rows from step {first} "
                        "on were not written and are lost when this process exits")
            elif self._wal is not None:
                left = ("every logged row is in the write-ahead log, which readers read; "
                        "compacting it into Parquet failed")
            else:
                return None
        elif self._memory_only():
            left = (f"rows from step {first} on are only in memory; they are kept and the "
                    "write is retried while logging goes on")
        elif not self._in_history:
            left = "history is written as usual; rewriting run.json failed and is retried"
        else:
            left = ("every logged row is in the write-ahead log, which readers read; "
                    "compacting it into Parquet failed and is retried")
        return f"runlake: writing run {self._name} failed ({type(exc).__name__}: {exc}); {left}"

    def _memory_only(self) -> bool:
        return self._in_history and self._first_unwritten_step() is not None

    def _first_unwritten_step(self) -> int | None:
        """The first step not in the WAL: in the converted backlog, else among taken chunks."""
        for table in self._pending:
            if table.num_rows:
                return int(table.column(STEP)[0].as_py())
        with self._drain_lock:
            for chunk in self._taken:
                if len(chunk):
                    return int(chunk.steps[0])
        return None

    def _cycle(self, final: bool) -> None:
        self._in_history = True
        self.drain()
        with self._drain_lock:
            chunks, self._taken = self._taken, []
        if self.files is not None:
            try:  # after taking the rows: every file they refer to was queued before them
                self.files.settle(self.paths.files_dir, fsync=self.options.fsync)
            except Exception:
                with self._drain_lock:
                    self._taken[:0] = chunks
                raise
        if chunks:
            self.schema.owner = self.keys.owner  # also for a schema a resume put in place
            self._claim_keys(chunks)
            # A chunk at a time (each at most CHUNK_ROWS rows), appended to the WAL as frames
            # fill: a backlog is never converted, copied and written all at once.
            for i, chunk in enumerate(chunks):
                try:
                    table = chunks_to_table([chunk], self.schema, self.start_time)
                except Exception:
                    self._put_back(chunks[i:])
                    raise
                self._pending.append(table)
                self._pending_bytes += table.nbytes
                if self._pending_bytes >= self.options.frame_bytes and i + 1 < len(chunks):
                    try:
                        self._append()
                    except Exception:  # the converted rows stay pending and are retried
                        self._put_back(chunks[i + 1:])
                        raise
        now = time.time()
        due = (
            final or self._flush_wanted or self._pending_bytes >= self.options.frame_bytes
            or self.last_flush is None or now - self.last_flush >= self.options.wal_interval
        )
        if self._pending and due:
            self._append()
        if final:  # history first: a run.json that can't be written must not keep it back
            self._publish_segment()
            self._rewrite_widened()
        if self._on_cycle is not None:
            self._in_history = False
            self._on_cycle(final)

    def _put_back(self, chunks: Sequence[Chunk]) -> None:
        """Chunks not converted yet go back first in line for the next cycle."""
        with self._drain_lock:
            self._taken[:0] = chunks

    def _claim_keys(self, chunks: Sequence[Chunk]) -> None:
        """Claim the store-wide family of the keys new to the run, all at once (engine/keys.py),
        before the conversion places them one by one."""
        columns = self.schema.columns
        wanted: dict[str, str] = {}
        for chunk in chunks:
            if all(k in columns for k in chunk.keys):
                continue
            for key, kind in zip(chunk.keys, chunk.kinds()):
                if key not in columns and kind != NULL:
                    wanted.setdefault(key, family(kind))
        if wanted:
            self.keys.claim(wanted)

    def _append(self) -> None:
        # Conversions queued since the last append may predate a widening (x int64, then
        # float64): conform them to the run's current types, or they cannot be concatenated.
        tables = [conform(t, self.schema) for t in self._pending]
        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")
        rows = drop_null_columns(table)
        if self._wal is not None and self._wal.closed:
            self._publish_segment()  # a publish that failed after closing the WAL: finish it
        if self._segment is not None and not self._segment.accepts(rows.schema):
            self._publish_segment()  # a new key or a widened type: start the next segment
        if self._wal is None:
            self._wal = WalWriter(self.paths.wal_file(self._seq), fsync=self.options.fsync)
        self._wal.append(table)
        self._pending, self._pending_bytes = [], 0
        with self._cond:
            self.rows_durable += table.num_rows
            self._flush_wanted = False
            self.last_flush = time.time()
            self._cond.notify_all()
        if self._segment is None and not self._rebuild:
            try:
                self._segment = segment.SegmentWriter(
                    self.paths.segment_file(self._seq), rows.schema,
                    compact=self.options.compact, fsync=self.options.fsync,
                )
            except Exception:
                self._drop_segment()  # it would miss these rows: rebuild from the WAL instead
                raise
        if self._segment is not None:
            try:
                self._segment.write(rows)
            except Exception:
                self._drop_segment()
                raise
        if self._wal.bytes >= self.options.segment_bytes:
            self._publish_segment()
        # Hand freed Arrow memory back to the OS: the allocator would otherwise keep the
        # high-water mark of every frame for the rest of the run.
        pa.default_memory_pool().release_unused()

    def _drop_segment(self) -> None:
        """Give up the streamed segment; the WAL file has every row, so rebuild from it."""
        self._rebuild = True
        if self._segment is not None:
            self._segment, dropped = None, self._segment
            dropped.abort()

    def _publish_segment(self) -> None:
        """Publish the open segment, then drop the WAL file it makes redundant."""
        if self._segment is not None:
            try:
                self._segment.close()
            except Exception:
                self._drop_segment()
                raise
            self.rows_compacted += self._segment.rows
            self._segment = None
        if self._wal is None:
            return
        self._wal.close()
        if self._rebuild:
            self.rows_compacted += compact_wal(
                self._wal.path, self.paths.segment_file(self._seq), self.schema,
                compact=self.options.compact, fsync=self.options.fsync,
            )
            self._rebuild = False
        self._wal.path.unlink()
        self._wal = None
        self._seq += 1

    def _rewrite_widened(self) -> None:
        """Give every segment the run's final column types (int columns that became float)."""
        if not self.schema.widened:
            return
        for path in segment.list_segments(self.paths.history_dir):
            table = pq.read_table(path)
            fixed = conform(table, self.schema)
            if fixed.schema != table.schema:
                segment.write_segment(fixed, path, compact=self.options.compact)


def compact_wal(
    wal_path: Path, segment_path: Path, schema: RunSchema | None = None, *,
    compact: bool = False, fsync: bool = False,
) -> int:
    """Write every valid frame of a WAL file as one segment; returns the rows written."""
    frames = list(read_frames(wal_path))
    if not frames:
        return 0
    if schema is not None:  # frames may predate a widening (bool, then float64): cast each first
        frames = [conform(f, schema) for f in frames]
    table = pa.concat_tables(frames, promote_options="permissive")
    segment.write_segment(drop_null_columns(table), segment_path, compact=compact, fsync=fsync)
    return table.num_rows


def next_seq(paths: RunPaths) -> int:
    """The first unused WAL/segment sequence number of a run."""
    used = [seq_of(p) for p in segment.list_segments(paths.history_dir)]
    if paths.wal_dir.is_dir():
        used += [seq_of(p) for p in Path(paths.wal_dir).glob("*.arrows")]
    return max(used, default=-1) + 1
