"""buffer: the fast path's shape check, disarm/take, step counting and rows_logged."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import os
import shutil
import subprocess
import sys

from runlake.engine import buffer as buffer_module
from runlake.engine.buffer import HistoryBuffer
from runlake.engine.kinds import FloatList, IntList


@pytest.fixture(autouse=True, params=["native", "python"])
def lane(request, monkeypatch):
    """Every test here runs on both lanes: the compiled one (when built) and the Python one."""
    if request.param == "python":
        monkeypatch.setattr(buffer_module, "Lane", buffer_module.PyLane)
        monkeypatch.setattr(buffer_module, "Rows", buffer_module.PyRows)
    elif not buffer_module.NATIVE:
        pytest.skip("the compiled history buffer is not built here")
    return request.param



def rows_of(chunks):
    """(step, {key: value}) of every buffered row, in order."""
    out = []
    for c in chunks:
        cols = [c.column(j) for j in range(len(c.keys))]
        for i, step in enumerate(c.steps):
            out.append((step, {k: col[i] for k, col in zip(c.keys, cols)}))
    return out


def armed(keys=("a", "b"), values=(1.0, 2)):
    buf = HistoryBuffer()
    buf.append(keys, values, buf.step)
    return buf


def test_fast_path_needs_a_previous_row():
    buf = HistoryBuffer()
    assert buf.append_like_last({"a": 1.0}) is False
    assert buf.step == 0 and buf.rows_logged == 0 and len(buf) == 0


def test_fast_path_accepts_the_same_shape():
    buf = armed()
    assert buf.append_like_last({"a": 3.0, "b": 4}) is True
    assert buf.append_like_last({"a": 5.0, "b": 6}) is True
    chunks = buf.take()
    assert len(chunks) == 1
    assert rows_of(chunks) == [(0, {"a": 1.0, "b": 2}), (1, {"a": 3.0, "b": 4}),
                               (2, {"a": 5.0, "b": 6})]
    assert buf.step == 3 and buf.rows_logged == 3


@pytest.mark.parametrize(
    "data",
    [
        {"b": 4, "a": 3.0},               # other order
        {"a": 3.0},                       # fewer keys
        {"a": 3.0, "b": 4, "c": 1},       # more keys
        {"a": 3.0, "c": 4},               # other key
        {"a": 3, "b": 4},                 # int where float was
        {"a": 3.0, "b": 4.0},             # float where int was
        {"a": 3.0, "b": True},            # bool where int was (bool is an int subclass)
        {"a": np.float64(3.0), "b": 4},   # numpy float where float was
        {"a": None, "b": 4},              # None where float was
        {"a": "x", "b": 4},
        {"a": [1.0], "b": 4},
        OrderedDict([("a", 3.0), ("b", 4)]),  # not exactly a dict
    ],
)
def test_fast_path_refuses_any_other_shape(data):
    buf = armed()
    assert buf.append_like_last(data) is False
    assert buf.step == 1 and buf.rows_logged == 1
    assert rows_of(buf.take()) == [(0, {"a": 1.0, "b": 2})]


@pytest.mark.parametrize("data", [[("a", 1.0), ("b", 2)], ("a", "b"), None, "ab"])
def test_fast_path_refuses_non_dicts(data):
    buf = armed()
    assert buf.append_like_last(data) is False
    assert buf.rows_logged == 1


def test_fast_path_compares_list_value_types():
    buf = armed(("v",), (IntList((1, 2)),))
    assert buf.append_like_last({"v": FloatList((1.0,))}) is False
    assert buf.append_like_last({"v": (1, 2)}) is False
    assert buf.append_like_last({"v": IntList((3,))}) is True
    assert rows_of(buf.take()) == [(0, {"v": (1, 2)}), (1, {"v": (3,)})]


def test_disarm_turns_the_fast_path_off_until_the_next_append():
    buf = armed()
    buf.disarm()
    assert buf.append_like_last({"a": 3.0, "b": 4}) is False
    assert len(buf) == 1  # disarm keeps what is buffered
    buf.append(("a", "b"), (3.0, 4), buf.step)
    assert buf.append_like_last({"a": 5.0, "b": 6}) is True
    assert [s for s, _ in rows_of(buf.take())] == [0, 1, 2]


def test_take_empties_the_buffer_and_disarms():
    buf = armed()
    buf.append_like_last({"a": 3.0, "b": 4})
    chunks = buf.take()
    assert len(chunks) == 1 and len(buf) == 0
    assert buf.take() == []
    # the taken chunk must not grow any more: the fast path is off after take()
    assert buf.append_like_last({"a": 5.0, "b": 6}) is False
    assert len(chunks[0]) == 2
    assert buf.rows_logged == 2 and buf.step == 2


def test_shape_changes_start_new_chunks_in_order():
    buf = HistoryBuffer()
    buf.append(("a",), (1.0,), 0)
    buf.append(("a",), (2.0,), 1)
    buf.append(("a",), (3,), 2)        # other type
    buf.append(("a", "b"), (4.0, "x"), 3)
    buf.append(("a",), (5.0,), 4)      # back to the first shape: a new chunk, order kept
    chunks = buf.take()
    assert [c.keys for c in chunks] == [("a",), ("a",), ("a", "b"), ("a",)]
    assert [c.types for c in chunks] == [(float,), (int,), (float, str), (float,)]
    assert [len(c) for c in chunks] == [2, 1, 1, 1]
    assert [c.kinds() for c in chunks] == [("float",), ("int",), ("float", "str"), ("float",)]
    assert rows_of(chunks) == [
        (0, {"a": 1.0}), (1, {"a": 2.0}), (2, {"a": 3}), (3, {"a": 4.0, "b": "x"}), (4, {"a": 5.0}),
    ]


def test_step_counting():
    buf = HistoryBuffer(step=7)
    assert buf.step == 7
    buf.append(("a",), (1.0,), buf.step)
    assert buf.step == 8
    buf.append(("a",), (1.0,), 100)   # an explicit step jumps
    assert buf.step == 101
    assert buf.append_like_last({"a": 2.0})
    assert buf.step == 102
    buf.append((), (), buf.step)      # an empty row is a step too
    assert buf.step == 103
    assert [s for s, _ in rows_of(buf.take())] == [7, 100, 101, 102]
    assert buf.rows_logged == 4


def test_rows_logged_counts_every_row_across_takes():
    buf = HistoryBuffer()
    for i in range(5):
        buf.append(("a",), (float(i),), buf.step)
        assert buf.append_like_last({"a": 0.5})
        if i % 2:
            buf.take()
    assert buf.rows_logged == 10
    assert buf.step == 10


def test_values_are_stored_as_given_row_major():
    buf = HistoryBuffer()
    buf.append(("a", "b", "c"), (1, "x", None), 0)
    buf.append_like_last({"a": 2, "b": "y", "c": None})
    (chunk,) = buf.take()
    assert chunk.values == [1, "x", None, 2, "y", None]
    assert chunk.column(0) == [1, 2] and chunk.column(1) == ["x", "y"]
    assert chunk.column(2) == [None, None]
    assert len(chunk.times) == 2 and all(isinstance(t, float) for t in chunk.times)


def test_float_chunk_fast_path_rolls_back_a_row_it_cannot_take():
    """A float-only chunk extends its float array in C; a bad value must leave no trace."""
    buf = armed(("a", "b", "c"), (1.0, 2.0, 3.0))
    for bad in ({"a": 4.0, "b": "x", "c": 5.0}, {"a": 4.0, "b": 5.0, "c": None},
                {"a": 4.0, "b": 5.0, "c": {"d": 1.0}}, {"a": 4.0, "b": 5.0, "c": [1.0]},
                {"a": 4.0, "b": 5.0, "c": 10**400}):
        assert buf.append_like_last(bad) is False
    assert buf.step == 1 and buf.rows_logged == 1
    assert buf.append_like_last({"a": 7.0, "b": 8.0, "c": 9.0})
    (chunk,) = buf.take()
    assert len(chunk) == 2 and len(chunk.values) == 6
    assert rows_of([chunk]) == [(0, {"a": 1.0, "b": 2.0, "c": 3.0}),
                                (1, {"a": 7.0, "b": 8.0, "c": 9.0})]


def test_float_chunk_fast_path_takes_numbers_as_floats():
    # under a float column a bool or int is stored as float64 anyway (docs/FORMAT.md)
    buf = armed(("a", "b"), (1.0, 2.0))
    assert buf.append_like_last({"a": 3, "b": True})
    assert buf.append_like_last({"a": np.float32(0.5), "b": np.int64(-4)})
    (chunk,) = buf.take()
    cols = [list(map(float, chunk.column(j))) for j in range(2)]
    assert cols == [[1.0, 3.0, 0.5], [2.0, 1.0, -4.0]]
    assert [type(v) for v in chunk.column(0)] == [np.float64] * 3


def test_take_of_an_empty_buffer_never_hands_out_the_live_list():
    """A row logged after an empty take() must not land in the list the writer holds."""
    buf = HistoryBuffer()
    got = buf.take()
    buf.append(("x",), [1.0], 0)
    assert got == []
    assert buf.take()[0].keys == ("x",)


def test_writer_and_loggers_hand_off_every_row_once_under_threads():
    """Several logging threads and a taking thread: every row comes out exactly once, and no
    chunk the taker holds is extended afterwards (its length is frozen when taken)."""
    import threading

    buf = HistoryBuffer()
    per_thread, threads = 4000, 3
    taken: list = []
    frozen: list[tuple[object, int]] = []
    stop = threading.Event()

    def log(t: int) -> None:
        for i in range(per_thread):
            row = {"t": float(t), "i": float(i)}
            if not buf.append_like_last(row):
                buf.append(tuple(row), row.values(), buf.step)
            if i % 97 == 0:
                buf.disarm()

    def take() -> None:
        while not stop.is_set():
            for chunk in buf.take():
                taken.append(chunk)
                frozen.append((chunk, len(chunk)))

    taker = threading.Thread(target=take)
    taker.start()
    loggers = [threading.Thread(target=log, args=(t,)) for t in range(threads)]
    for th in loggers:
        th.start()
    for th in loggers:
        th.join()
    stop.set()
    taker.join()
    taken.extend(buf.take())
    assert all(len(chunk) == n for chunk, n in frozen)
    assert len({id(c) for c in taken}) == len(taken)
    seen = sorted((int(v["t"]), int(v["i"])) for _, v in rows_of(taken))
    assert seen == sorted((t, i) for t in range(threads) for i in range(per_thread))


def test_rows_of_one_shape_share_a_chunk_whatever_path_they_took():
    """disarm() stops the fast path but keeps the chunk open: rows appended after it (the
    `step=` and `commit=False` paths) join the chunk of their shape."""
    buf = HistoryBuffer()
    for step in range(0, 200, 2):
        buf.disarm()
        buf.append(("a", "b"), (1.0, 2), step)
    chunks = buf.take()
    assert len(chunks) == 1 and len(chunks[0]) >= 100
    assert list(chunks[0].steps)[:3] == [0, 2, 4]


def test_disarm_still_sends_the_next_row_to_the_slow_path():
    buf = armed()
    buf.disarm()
    assert not buf.append_like_last({"a": 1.0, "b": 2})
    buf.append(("a", "b"), (1.0, 2), buf.step)
    assert buf.append_like_last({"a": 1.0, "b": 2})


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _append_in_thread(buf: HistoryBuffer, fast: bool):
    import threading

    done = threading.Event()

    def go() -> None:
        if not (fast and buf.append_like_last({"a": 1.0, "b": 2})):
            buf.append(("a", "b"), (1.0, 2), buf.step)
        done.set()

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread, done


@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "append"])
def test_an_append_waits_for_the_writer_once_rows_are_max_lag_old(monkeypatch, fast):
    from runlake.engine import buffer as module

    clock = _Clock()
    monkeypatch.setattr(module, "_now", clock)
    buf = HistoryBuffer()
    buf.throttle(30.0)
    buf.append(("a", "b"), (1.0, 2), 0)  # the oldest untaken row, at t=1000
    clock.now += 10.0
    thread, done = _append_in_thread(buf, fast)
    assert done.wait(5)  # younger than max_lag: no wait
    clock.now += 25.0
    thread, done = _append_in_thread(buf, fast)
    assert not done.wait(0.3)  # 35 s old: it waits for the writer...
    assert len(buf.take()) == 1  # ...whose take lets it go
    assert done.wait(5)
    thread.join(5)
    assert buf.rows_logged == 3


def test_turning_backpressure_off_releases_a_waiting_append(monkeypatch):
    from runlake.engine import buffer as module

    clock = _Clock()
    monkeypatch.setattr(module, "_now", clock)
    buf = HistoryBuffer()
    buf.throttle(30.0)
    buf.append(("a", "b"), (1.0, 2), 0)
    clock.now += 60.0
    thread, done = _append_in_thread(buf, True)
    assert not done.wait(0.3)
    buf.throttle(None)  # the writer hit a write error: training must go on
    assert done.wait(5)
    clock.now += 60.0
    thread, done = _append_in_thread(buf, True)
    assert done.wait(5)


def test_without_a_writer_appends_never_wait(monkeypatch):
    from runlake.engine import buffer as module

    clock = _Clock()
    monkeypatch.setattr(module, "_now", clock)
    buf = HistoryBuffer()
    buf.append(("a", "b"), (1.0, 2), 0)
    clock.now += 1e6
    thread, done = _append_in_thread(buf, True)
    assert done.wait(5)


def test_the_compiled_lane_is_built_where_a_compiler_is(lane):
    """The package's build compiles engine/_native.c (setup.py): a machine with a C compiler
    that ends up on the Python lane has a broken build, not a slow machine."""
    if lane == "python" or os.environ.get("RUNLAKE_NATIVE", "1") == "0":
        pytest.skip("the Python lane is asked for")
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler here: the Python lane is expected")
    assert buffer_module.NATIVE


def test_the_python_lane_is_announced_once_when_the_build_is_missing(lane, tmp_path):
    # A process where `_native` cannot be imported: the buffer warns once and still works.
    code = (
        "import sys, warnings\n"
        "sys.modules['runlake.engine._native'] = None\n"  # an import of it raises ImportError
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    from runlake.engine import buffer\n"
        "    b = buffer.HistoryBuffer(); b.append(('x',), [1.0], 0)\n"
        "    assert b.append_like_last({'x': 2.0}) and not buffer.NATIVE\n"
        "print(sum('compiled history buffer' in str(x.message) for x in w))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


def test_a_chunk_holds_at_most_chunk_rows_and_chunk_values(lane):
    from runlake.engine.buffer import CHUNK_ROWS, CHUNK_VALUES

    buf = HistoryBuffer()
    buf.append(("x",), [0.0], 0)
    for i in range(1, CHUNK_ROWS + 5):
        if not buf.append_like_last({"x": float(i)}):
            buf.append(("x",), [float(i)], buf.step)
    sizes = [len(c) for c in buf.take()]
    assert sizes == [CHUNK_ROWS, 5]
    wide = tuple(f"k{j}" for j in range(2000))
    row = dict.fromkeys(wide, 1.0)
    buf.append(wide, row.values(), 0)
    for _ in range(CHUNK_VALUES // 2000 + 3):
        if not buf.append_like_last(row):
            buf.append(wide, row.values(), buf.step)
    sizes = [len(c) for c in buf.take()]
    assert sizes[0] == CHUNK_VALUES // 2000 and sum(sizes) == CHUNK_VALUES // 2000 + 4


def test_a_new_chunk_waits_for_the_writer_once_enough_values_are_untaken(lane):
    """Memory stays bounded at any logging rate: past MAX_UNTAKEN_VALUES untaken values a new
    chunk waits for the writer's take (woken by it), while the writer is healthy; chunks of
    alternating small shapes never wait."""
    import threading

    from runlake.engine.buffer import CHUNK_VALUES, MAX_UNTAKEN_VALUES

    buf = HistoryBuffer()
    buf.throttle(60.0)  # a healthy writer far from its time limit: only the values count
    for i in range(1000):  # alternating shapes: a chunk each, few values
        buf.append(("a",) if i % 2 else ("b", "c"), [1.0] * (1 if i % 2 else 2), i)
    wide = tuple(f"k{j}" for j in range(CHUNK_VALUES // 8))
    for i in range(MAX_UNTAKEN_VALUES // len(wide)):  # full chunks of 8 wide rows
        buf.append(wide, [1.0] * len(wide), buf.step)
    order = []
    done = threading.Event()

    def log_more():
        buf.append(("other",), [1.0], buf.step)
        order.append("appended")
        done.set()

    t = threading.Thread(target=log_more)
    t.start()
    assert not done.wait(0.3)  # still waiting for a take
    order.append("take")
    assert sum(len(c) for c in buf.take()) == 1000 + MAX_UNTAKEN_VALUES // len(wide)
    t.join(10)
    assert order == ["take", "appended"]
    assert [c.keys for c in buf.take()] == [("other",)]
