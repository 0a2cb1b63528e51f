"""Property: any sequence of log()/commit/step calls reads back as a simple model of wandb's
step rules says (hypothesis), through the real write path and plain pyarrow."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runlake
from tests.helpers import rows


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
            run = runlake.init(dir=root)
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
