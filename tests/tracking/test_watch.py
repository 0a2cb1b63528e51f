"""run.watch()/unwatch() on a real small torch model (CPU): hooks, counting, keys, the
histograms read back from the store, the module graph, bad input and a missing torch."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import runlake
from runlake.tracking.watch import histogram

torch = pytest.importorskip("torch", reason="torch is in the 'test' extra")

needs_histogram = pytest.mark.skipif(
    not hasattr(runlake, "Histogram"),
    reason="runlake.Histogram (sdk/media/histogram.py) is missing",
)


def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


def train(run: runlake.Run, net: torch.nn.Module, batches: int) -> None:
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(batches):
        x = torch.randn(16, 4)
        loss = net(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.log({"loss": loss.item()})


def hooks(net: torch.nn.Module) -> int:
    return len(net._forward_hooks) + sum(len(p._backward_hooks or {}) for p in net.parameters())


# -- the histogram itself -------------------------------------------------------------------


def test_histogram_matches_numpy():
    values = torch.arange(128, dtype=torch.float32) * 0.5 - 7.0
    counts, edges = histogram(values.reshape(8, 16))
    want, want_edges = np.histogram(values.numpy(), bins=64, range=(-7.0, 56.5))
    assert counts.tolist() == want.tolist() and counts.dtype == np.int64
    assert np.allclose(edges, want_edges) and len(edges) == 65


def test_histogram_edge_cases():
    t = torch.tensor([1.0, float("nan"), float("inf"), 3.0, -float("inf")])
    counts, edges = histogram(t)
    assert counts.sum() == 2 and edges[0] == 1.0 and edges[-1] == 3.0  # finite values only
    counts, edges = histogram(torch.full((5,), 2.0))  # constant: a unit range around it
    assert counts.sum() == 5 and (edges[0], edges[-1]) == (1.5, 2.5)
    assert histogram(torch.tensor([float("nan")])) is None
    assert histogram(torch.empty(0)) is None
    counts, _ = histogram(torch.arange(10))  # integers
    assert counts.sum() == 10
    counts, _ = histogram(torch.ones(3, dtype=torch.float16))
    assert counts.sum() == 3


# -- hooks -----------------------------------------------------------------------------------


def test_watch_registers_and_unwatch_removes_hooks(root):
    net = model()
    run = runlake.init(settings={"root": root})
    run.watch(net, log="all", log_freq=10_000)
    assert hooks(net) == 1 + 4  # one forward hook, one gradient hook per parameter
    train(run, net, 3)  # below log_freq: nothing logged but the loss
    run.unwatch(net)
    assert hooks(net) == 0
    with pytest.warns(UserWarning, match="not watched"):
        run.unwatch(net)
    run.watch(net, log="parameters")
    assert hooks(net) == 1
    run.finish()
    assert hooks(net) == 0  # finish releases the model
    train_after = torch.nn.Linear(1, 1)
    train_after(torch.ones(1, 1)).sum().backward()  # nothing of the run left behind


def test_log_modes_hook_what_they_say(root):
    with runlake.init(settings={"root": root}) as run:
        a, b, c, d = model(), model(), model(), model()
        run.watch(a)  # default: gradients
        run.watch(b, log="parameters")
        run.watch(c, log=None)
        frozen = d[0].weight
        frozen.requires_grad_(False)
        run.watch(d, log="gradients")
        assert (hooks(a), hooks(b), hooks(c), hooks(d)) == (4, 1, 0, 3)
        run.unwatch()
        assert hooks(a) + hooks(b) + hooks(d) == 0


def test_watching_twice_warns(root):
    with runlake.init(settings={"root": root}) as run:
        net = model()
        run.watch(net)
        with pytest.warns(UserWarning, match="watched already"):
            run.watch(net)
        assert hooks(net) == 4


def test_detach_releases_the_model(root):
    net = model()
    run = runlake.init(settings={"root": root})
    run.watch(net, log="all")
    run.detach()
    assert hooks(net) == 0


def test_log_graph_writes_the_module_tree(root):
    net = model()
    with runlake.init(settings={"root": root}) as run:
        run.watch(net, log_graph=True)
        run.watch(torch.nn.Linear(3, 1), log=None, log_graph=True)
    files = run._paths.files_dir
    g = json.loads((files / "graph_0.json").read_text())
    assert g["class"] == "torch.nn.modules.container.Sequential"
    assert g["num_parameters"] == 4 * 8 + 8 + 8 * 2 + 2
    names = [n["name"] for n in g["nodes"]]
    assert names == ["", "0", "1", "2"] and g["nodes"][0]["children"] == ["0", "1", "2"]
    assert g["nodes"][1]["parameters"] == [
        {"name": "weight", "shape": [8, 4], "dtype": "float32", "requires_grad": True},
        {"name": "bias", "shape": [8], "dtype": "float32", "requires_grad": True}]
    assert "Linear(in_features=4" in g["repr"]
    second = json.loads((files / "graph_1.json").read_text())
    assert second["num_parameters"] == 4
    summary = runlake.Api(root).run(run.path).summary
    assert summary["graph_0"]["_type"] == "graph-file" and summary["graph_0"]["path"] == "graph_0.json"
    assert summary["graph_1"]["size"] == (files / "graph_1.json").stat().st_size


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "kwargs", "match"), [
    (("not a model",), {}, "torch.nn.Module.*builtins.str"),
    (([],), {}, "at least one"),
    ((lambda: model(),), {}, "torch.nn.Module"),
    ((None,), {"log": "weights"}, "'gradients', 'parameters', 'all' or None"),
    ((None,), {"log_freq": 0}, "positive int"),
    ((None,), {"log_freq": 1.5}, "positive int.*float"),
    ((None,), {"idx": -1}, "idx"),
    ((None,), {"log_graph": "yes"}, "log_graph"),
])
def test_bad_arguments_are_value_errors(root, args, kwargs, match):
    net = model()
    args = tuple(net if a is None else a for a in args)
    with runlake.init(settings={"root": root}) as run:
        with pytest.raises(ValueError, match=match):
            run.watch(*args, **kwargs)
        assert hooks(net) == 0


def test_models_in_a_list_and_a_non_module_among_them(root):
    a, b = model(), model()
    with runlake.init(settings={"root": root}) as run:
        with pytest.raises(ValueError, match="torch.nn.Module"):
            run.watch([a, "b"])
        assert hooks(a) == 0  # nothing hooked when one of them is refused
        run.watch([a, b], log="parameters")
        assert hooks(a) == hooks(b) == 1


def test_module_level_watch_needs_init():
    with pytest.raises(ValueError, match="init"):
        runlake.watch(model())
    with pytest.raises(runlake.UsageError):
        runlake.watch(model())
    runlake.unwatch()  # nothing to do


def test_watch_after_finish_is_a_usage_error(root):
    run = runlake.init(settings={"root": root})
    run.finish()
    with pytest.raises(runlake.UsageError, match="finished"):
        run.watch(model())


def test_disabled_run_watch_is_a_no_op_that_still_checks():
    net = model()
    with runlake.init(mode="disabled") as run:
        run.watch(net, log="all")
        assert hooks(net) == 0
        with pytest.raises(ValueError):
            run.watch(object())


def test_missing_torch_names_the_extra(root, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    with runlake.init(settings={"root": root}) as run:
        with pytest.raises(ImportError, match=r"pip install 'runlake\[torch\]'") as e:
            run.watch(object())
        assert isinstance(e.value, runlake.MissingExtraError)


# -- what is logged (needs runlake.Histogram) -----------------------------------------------


def histogram_column(frame, key: str) -> list:
    return frame[key].to_list() if key in frame.columns else []


@needs_histogram
def test_gradients_and_parameters_are_logged_every_log_freq_batches(root):
    net = model()
    with runlake.init(settings={"root": root}) as run:
        run.watch(net, log="all", log_freq=3)
        train(run, net, 10)
    frame = runlake.Api(root).run(run.path).history(samples=None, format="polars")
    names = ["0.weight", "0.bias", "2.weight", "2.bias"]
    for kind in ("gradients", "parameters"):
        for name in names:
            column = histogram_column(frame, f"{kind}/{name}")
            logged = [i for i, v in enumerate(column) if v is not None]
            # the 3rd, 6th and 9th batch, at the step that batch's loss committed
            assert logged == [2, 5, 8], (kind, name, logged)
    assert frame["loss"].null_count() == 0 and frame.height == 10
    sizes = {"0.weight": 32, "0.bias": 8, "2.weight": 16, "2.bias": 2}
    for kind in ("gradients", "parameters"):
        for name, size in sizes.items():
            ref = frame[f"{kind}/{name}"][2]
            assert ref["_type"] == "histogram"
            assert len(ref["values"]) == 64 and len(ref["bins"]) == 65
            assert sum(ref["values"]) == size  # every element of the tensor, once
            assert ref["bins"] == sorted(ref["bins"])


@needs_histogram
def test_parameter_histograms_are_the_parameters_at_that_batch(root):
    net = model()
    with torch.no_grad():
        net[0].weight.copy_(torch.arange(32, dtype=torch.float32).reshape(8, 4))
    with runlake.init(settings={"root": root}) as run:
        run.watch(net, log="parameters", log_freq=1)
        net(torch.randn(2, 4))
        run.log({"batch": 0})
    frame = runlake.Api(root).run(run.path).history(samples=None, format="polars")
    ref = frame["parameters/0.weight"][0]
    want, edges = np.histogram(np.arange(32), bins=64, range=(0, 31))
    assert ref["values"] == want.tolist() and np.allclose(ref["bins"], edges)
    assert frame["batch"].to_list() == [0]  # the histograms joined the committed step


@needs_histogram
def test_second_model_keys_have_a_graph_prefix(root):
    a, b = model(), model()
    with runlake.init(settings={"root": root}) as run:
        run.watch([a, b], log="parameters", log_freq=1)
        for net in (a, b):
            net(torch.randn(2, 4))
        run.log({"done": 1})
    frame = runlake.Api(root).run(run.path).history(samples=None, format="polars")
    assert "parameters/0.weight" in frame.columns
    assert "parameters/graph_1/0.weight" in frame.columns
    assert frame.height == 1  # commit=False: both joined the step of {"done": 1}


@needs_histogram
def test_nothing_is_logged_before_log_freq_batches(root):
    # the usual use: watch before the loop, log the loss each step; watch logs nothing
    # until log_freq batches have run (default 1000)
    net = model()
    with runlake.init(settings={"root": root}) as run:
        runlake.watch(net)
        train(run, net, 5)
    frame = runlake.Api(root).run(run.path).history(samples=None, format="polars")
    assert frame.columns == ["_step", "_runtime", "_timestamp", "loss"]
