"""Property: any sequence of log()/commit/step calls reads back as a simple model of wandb's
step rules says (hypothesis), through the real write path and plain pyarrow; and so do such
sequences split by finish(), resume and rewind (a hypothesis state machine)."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

import runlake
from tests.helpers import rows

pytestmark = pytest.mark.slow  # Hypothesis drives whole runs, resumes and rewinds


class Model:
    """wandb's step rules, written as plainly as possible."""

    def __init__(self) -> None:
        self.step = 0
        self.pending: dict[str, object] = {}
        self.has_pending = False
        self.rows: list[dict[str, object]] = []

    def log(self, data: dict[str, object], step: int | None, commit: bool | None) -> None:
        if step is not None:
            if step < self.step:
                return  # dropped with a warning
            if step > self.step:
                self._commit()
                self.step = step
            commit = bool(commit)
        elif commit is None:
            commit = True
        self.pending.update(data)
        self.has_pending = True
        if commit:
            self._commit()

    def _commit(self) -> None:
        if self.has_pending:
            row = {"_step": self.step, **{k: v for k, v in self.pending.items() if v is not None}}
            self.rows.append(row)
            self.step += 1
            self.pending, self.has_pending = {}, False

    def finish(self) -> None:
        self._commit()


values = {
    "loss": st.floats(allow_nan=False, allow_infinity=False, width=64),
    "epoch": st.integers(-(2**40), 2**40),
    "phase": st.sampled_from(["train", "val", "test"]),
    "ok": st.booleans(),
    "train/acc": st.none() | st.floats(0, 1),
}
data = st.fixed_dictionaries({}, optional=values)
call = st.tuples(
    data,
    st.none() | st.integers(0, 40),
    st.sampled_from([None, None, True, False]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(call, max_size=40), st.booleans())
def test_log_sequences_read_back_as_the_model_says(calls, fast_repeats):
    model = Model()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            run = runlake.init(settings={"root": root})
            for d, step, commit in calls:
                repeats = 3 if fast_repeats and step is None and commit is None else 1
                for _ in range(repeats):  # repeated shapes exercise the buffer's fast path
                    run.log(dict(d), step=step, commit=commit)
                    model.log(dict(d), step, commit)
            run.finish()
        model.finish()
        got = rows(root) if model.rows else []
        assert run.step == model.step
    assert [_normalise(r) for r in got] == [_normalise(r) for r in model.rows]


def _normalise(row: dict[str, object]) -> dict[str, object]:
    # A bool or int column widens to float when floats appear under the key in the run (the
    # documented rule), so compare numbers by value.
    return {k: float(v) if isinstance(v, (bool, int)) and k != "_step" else v for k, v in row.items()}


class FinishResumeRewind(RuleBasedStateMachine):
    """Log calls in sessions ended by finish() and continued by init(resume="must") or rewound
    by init(resume_from=...), against the model: the history read back is the model's rows,
    each resume goes on at the model's step, and every row a rewind removed is set aside."""

    def __init__(self) -> None:
        super().__init__()
        self._tmp = tempfile.TemporaryDirectory()
        self.root = Path(self._tmp.name)
        self.model = Model()
        self.aside: list[dict[str, object]] = []  # the model's rows that rewinds removed
        self.run = runlake.init(settings={"root": self.root}, id="m")
        self.live = True

    @precondition(lambda self: self.live)
    @rule(call=call, repeats=st.sampled_from([1, 1, 3]))
    def log(self, call, repeats):
        d, step, commit = call
        if step is not None or commit is not None:
            repeats = 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # steps below the current are dropped
            for _ in range(repeats):  # repeated shapes exercise the buffer's fast path
                self.run.log(dict(d), step=step, commit=commit)
                self.model.log(dict(d), step, commit)

    @precondition(lambda self: self.live)
    @rule()
    def finish(self):
        self.run.finish()
        self.model.finish()
        self.live = False

    @precondition(lambda self: not self.live)
    @rule()
    def resume(self):
        self.run = runlake.init(settings={"root": self.root}, id="m", resume="must")
        self.live = True
        # A resume goes on after the last step in the history (after a finish that is the
        # model's step, but a rewind to a step without a row may leave it lower).
        self.model.step = self.model.rows[-1]["_step"] + 1 if self.model.rows else 0
        assert self.run.resumed and self.run.step == self.model.step

    @precondition(lambda self: not self.live and self.model.rows)
    @rule(data=st.data())
    def rewind(self, data):
        n = data.draw(st.integers(0, self.model.rows[-1]["_step"]), label="step")
        self.run = runlake.init(settings={"root": self.root}, resume_from=f"m?_step={n}")
        self.live = True
        self.aside += [r for r in self.model.rows if r["_step"] > n]
        self.model.rows = [r for r in self.model.rows if r["_step"] <= n]
        self.model.step = n + 1
        assert self.run.step == self.model.step

    def teardown(self):
        try:
            if self.live:
                self.run.finish()
                self.model.finish()
            got = _read_rows(self.root.glob("history/*/*/run_id=m/part-*.parquet"))
            assert got == [_normalise(r) for r in self.model.rows]
            aside = _read_rows(self.root.glob("runs/*/*/run_id=m/rewound/*/part-*.parquet"))
            assert sorted(_canonical(r) for r in aside) == sorted(
                _canonical(_normalise(r)) for r in self.aside)
        finally:
            self.run.finish()  # a no-op if finished; else the next example's init would get it
            self._tmp.cleanup()


def _canonical(row: dict[str, object]) -> str:
    return repr(sorted(row.items()))


def _read_rows(files) -> list[dict[str, object]]:
    tables = [pq.read_table(f, partitioning=None) for f in sorted(files)]
    if not tables:
        return []
    table = pa.concat_tables(tables, promote_options="permissive").sort_by("_step")
    return [_normalise({k: v for k, v in r.items()
                        if v is not None and k not in ("_runtime", "_timestamp")})
            for r in table.to_pylist()]


TestFinishResumeRewind = FinishResumeRewind.TestCase
TestFinishResumeRewind.settings = settings(
    max_examples=30, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
