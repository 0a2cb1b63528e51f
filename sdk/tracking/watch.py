"""`Run.watch()` / `Run.unwatch()`: PyTorch hooks that log histograms of a model's gradients
and parameters, and optionally a description of its module graph.

As wandb does: a gradient hook on each parameter counts the backward passes through it and,
every `log_freq`-th, logs `gradients/<param>`; a forward hook on the model counts batches
and, every `log_freq`-th, logs `parameters/<param>` for all of them. Both log with
`commit=False`, so the histograms join the step the training loop commits next. A model
watched with an index (`idx`, or the second and later models of one call) gets the prefix
`graph_<i>/` in its keys. torch is imported here, on the first `watch()`, never by
`import runlake`; the histogram is a `runlake.Histogram(np_histogram=(counts, edges))` of 64
bins over the finite values (computed with `torch.histc` where the tensor lives: only 64
counts are copied off a GPU). `criterion` is accepted for wandb's signature and not used.
"""

from __future__ import annotations

import hashlib
import json
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from runlake.engine import atomic
from runlake.errors import InvalidValueError, MissingExtraError
from runlake.media.histogram import Histogram

from runlake.tracking.handle import RunHandle
from runlake.tracking.summary import Summary

BINS = 64
LOG_MODES = ("gradients", "parameters", "all", None)

Log = Callable[..., None]  # the run's log(), called as log(row, commit=False)


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise MissingExtraError(
            "run.watch() hooks PyTorch models and torch is not installed: "
            "pip install 'runlake[torch]'"
        ) from None
    return torch


def histogram(tensor: Any) -> tuple[Any, Any] | None:
    """(counts, edges) as numpy arrays: BINS bins over the tensor's finite values; None if
    it has none. A constant tensor gets one unit-wide range around its value."""
    torch = _torch()
    flat = tensor.detach().reshape(-1)
    if not flat.is_floating_point():
        flat = flat.double()
    elif flat.dtype in (torch.float16, torch.bfloat16):
        flat = flat.float()  # histc has no half kernel on CPU
    flat = flat[torch.isfinite(flat)]
    if flat.numel() == 0:
        return None
    lo, hi = flat.min().item(), flat.max().item()
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    counts = torch.histc(flat, bins=BINS, min=lo, max=hi)
    edges = torch.linspace(lo, hi, BINS + 1, dtype=torch.float64)
    return counts.cpu().numpy().astype("int64"), edges.numpy()


def _log_histograms(log: Log, named: Sequence[tuple[str, Any]]) -> None:
    row = {}
    for key, tensor in named:
        hist = histogram(tensor)
        if hist is not None:
            row[key] = Histogram(np_histogram=hist)
    if row:
        log(row, commit=False)


class _Watched:
    """One watched model: its hooks, counters and key prefix."""

    def __init__(self, to: Log, model: Any, prefix: str, log: str | None, log_freq: int) -> None:
        self.model = model
        self.prefix = prefix
        self.handles: list[Any] = []
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        if log in ("parameters", "all"):
            self.handles.append(model.register_forward_hook(self._on_forward(to, log_freq)))
        if log in ("gradients", "all"):
            for name, param in model.named_parameters():
                if param.requires_grad:
                    self.handles.append(param.register_hook(self._on_grad(to, name, log_freq)))

    def _due(self, what: str, log_freq: int) -> bool:
        with self._lock:  # autograd may run hooks on its own threads
            n = self._counts.get(what, 0) + 1
            self._counts[what] = 0 if n >= log_freq else n
        return n >= log_freq

    def _on_forward(self, to: Log, log_freq: int) -> Any:
        def hook(module: Any, inputs: Any, output: Any) -> None:
            if self._due("parameters", log_freq):
                _log_histograms(to, [(f"parameters/{self.prefix}{n}", p)
                                      for n, p in module.named_parameters()])
        return hook

    def _on_grad(self, to: Log, name: str, log_freq: int) -> Any:
        key = f"gradients/{self.prefix}{name}"

        def hook(grad: Any) -> None:
            if self._due(key, log_freq):
                _log_histograms(to, [(key, grad)])
        return hook

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []


class Watcher:
    """A run's watched models (at most one entry per model): their hooks log with the run's
    `log` and a graph goes into its files and `summary`."""

    def __init__(self, run: RunHandle, log: Log, summary: Summary) -> None:
        self._run = run
        self._log = log
        self._summary = summary
        self._watched: list[_Watched] = []
        self._next_idx = 0  # wandb's global watch index: graph_<i> for the second model on

    def watch(self, models: Any, criterion: Any = None, log: str | None = "gradients",
              log_freq: int = 1000, idx: int | None = None, log_graph: bool = False) -> None:
        torch = _torch()
        models = check_models(torch, models)
        if log not in LOG_MODES:
            raise InvalidValueError(
                f"watch(log=...) must be 'gradients', 'parameters', 'all' or None, got {log!r}"
            )
        if isinstance(log_freq, bool) or not isinstance(log_freq, int) or log_freq < 1:
            raise InvalidValueError(
                f"watch(log_freq=...) must be a positive int (batches), got "
                f"{type(log_freq).__name__} {log_freq!r}"
            )
        if idx is not None and (isinstance(idx, bool) or not isinstance(idx, int) or idx < 0):
            raise InvalidValueError(f"watch(idx=...) must be an int >= 0 or None, got {idx!r}")
        if not isinstance(log_graph, bool):
            raise InvalidValueError(f"watch(log_graph=...) must be a bool, got {log_graph!r}")
        run = self._run
        run.require_live("watch()")
        if run.paths is None:
            return  # mode="disabled": checked, and nothing to record
        first = self._next_idx if idx is None else idx
        for i, model in enumerate(models):
            global_idx = first + i
            self._next_idx = max(self._next_idx, global_idx + 1)
            if any(w.model is model for w in self._watched):
                warnings.warn(f"runlake: model {type(model).__name__} is watched already; "
                              "call run.unwatch(model) first to watch it again",
                              UserWarning, stacklevel=4)
                continue
            prefix = f"graph_{global_idx}/" if global_idx > 0 else ""
            self._watched.append(_Watched(self._log, model, prefix, log, log_freq))
            if log_graph:
                save_graph(run.paths.files_dir, self._summary, model, global_idx)

    def unwatch(self, models: Any = None) -> None:
        if models is None:
            for w in self._watched:
                w.remove()
            self._watched = []
            return
        models = check_models(_torch(), models)
        for model in models:
            found = [w for w in self._watched if w.model is model]
            if not found:
                warnings.warn(f"runlake: model {type(model).__name__} is not watched",
                              UserWarning, stacklevel=4)
            for w in found:
                w.remove()
                self._watched.remove(w)


def check_models(torch: Any, models: Any) -> list[Any]:
    listed = list(models) if isinstance(models, (list, tuple)) else [models]
    if not listed:
        raise InvalidValueError("watch() needs at least one torch.nn.Module")
    for m in listed:
        if not isinstance(m, torch.nn.Module):
            raise InvalidValueError(
                f"watch() takes torch.nn.Module models (or a list of them), got "
                f"{type(m).__module__}.{type(m).__qualname__}"
            )
    return listed


def graph(model: Any) -> dict[str, Any]:
    """The model's module tree: each module's name, class and own parameters."""
    nodes = []
    for name, module in model.named_modules():
        params = [
            {"name": n, "shape": list(p.shape), "dtype": str(p.dtype).replace("torch.", ""),
             "requires_grad": bool(p.requires_grad)}
            for n, p in module.named_parameters(recurse=False)
        ]
        nodes.append({
            "name": name, "class": f"{type(module).__module__}.{type(module).__qualname__}",
            "parameters": params, "num_parameters": sum(p.numel() for p in
                                                        module.parameters(recurse=False)),
            "children": [f"{name}.{c}" if name else c for c, _ in module.named_children()],
        })
    total = sum(p.numel() for p in model.parameters())
    return {"format": "runlake.module-graph", "version": 1,
            "class": f"{type(model).__module__}.{type(model).__qualname__}",
            "num_parameters": total, "nodes": nodes, "repr": repr(model)}


def save_graph(files_dir: Path, summary: Summary, model: Any, idx: int) -> None:
    """Write `graph_<idx>.json` to the run's files and point `summary["graph_<idx>"]` at it."""
    data = json.dumps(graph(model), ensure_ascii=False, indent=1).encode("utf-8")
    name = f"graph_{idx}.json"
    path = files_dir / name
    atomic.write_bytes(path, data)
    summary[f"graph_{idx}"] = {
        "_type": "graph-file", "path": name, "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }
