"""The `runlake` command: look at a store from a shell.

    runlake demo                                   log a few demo runs and query them
    runlake runs mnist --filter '{"state": "finished"}' --order -created_at --limit 10
    runlake history mnist/3x9f2kq1 --keys train/loss,val/acc --samples 20
    runlake history mnist/3x9f2kq1 --stream system   the run's system metrics
    runlake sql 'SELECT name, summary FROM runs'   SQL over the views `runs`, `history`, ...
    runlake export mnist runs.parquet              histories to Parquet or CSV
    runlake recover                                compact the runs of writers that died
    runlake gc                                     delete artifact objects no version uses
    runlake run -- python train.py                 run a command with `import wandb` = runlake

Every command takes `--dir ROOT` (default: $RUNLAKE_DIR, else ./runlake-store). A mistake such as
an unknown run or bad filter JSON prints one `runlake: error: ...` line and exits with 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from typing import Any

CELL_WIDTH = 40  # longer cells are cut with "…"
SUMMARY_KEYS = 4  # summary columns shown by `runlake runs`


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:  # its arguments are the command's: argparse must not read them
        from runlake.cli.run import main as run_main

        return run_main(argv[1:])
    args = _parser().parse_args(_order_values(argv))
    import duckdb

    from runlake.errors import Error

    try:
        return args.func(args) or 0
    except BrokenPipeError:  # output piped into `head`, which closed early: end quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (Error, duckdb.Error, json.JSONDecodeError, ValueError, LookupError, OSError) as e:
        print(f"runlake: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        _flush_stdout()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runlake", description=__doc__.split("\n\n")[0],
        epilog="Each command has --help.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--dir", default=None, metavar="ROOT",
                       help="store root (default: $RUNLAKE_DIR, else ./runlake-store)")

    demo = sub.add_parser("demo", parents=[store], help="log a few demo runs and query them")
    demo.add_argument("--runs", type=_positive, default=4)
    demo.add_argument("--steps", type=_positive, default=2000)
    demo.set_defaults(func=_demo)

    runs = sub.add_parser("runs", parents=[store], help="list runs as a table")
    runs.add_argument("path", nargs="?", help="entity/project or project (default: every project)")
    runs.add_argument("--filter", metavar="JSON", help='MongoDB-style filter, e.g. \'{"tags": "best"}\'')
    runs.add_argument("--order", default="-created_at", metavar="FIELD",
                      help="sort field with a +/- prefix (default: -created_at)")
    runs.add_argument("--limit", type=_positive, metavar="N", help="at most N runs")
    runs.set_defaults(func=_runs)

    history = sub.add_parser("history", parents=[store], help="print a run's history rows")
    history.add_argument("path", help="entity/project/run_id or project/run_id")
    history.add_argument("--keys", metavar="K1,K2", help="only these keys (rows having all of them)")
    history.add_argument("--samples", type=int, default=500, metavar="N",
                         help="at most N rows, keeping each key's spikes (0: every row; default 500)")
    history.add_argument("--stream", choices=("default", "system"), default="default",
                         help="'system': the sampled system metrics instead of logged rows")
    history.set_defaults(func=_history)

    sql = sub.add_parser("sql", parents=[store], help="run SQL over the views `history` and `runs`")
    sql.add_argument("query")
    sql.set_defaults(func=_sql)

    export = sub.add_parser("export", parents=[store], help="write histories to Parquet or CSV")
    export.add_argument("path", help="entity/project or project (all runs), or a run path")
    export.add_argument("dest", help="the file to write (.parquet or .csv)")
    # Checked by the export itself (not argparse `choices`), so a wrong one is one error line.
    export.add_argument("--format", metavar="{parquet,csv}", help="default: from dest's suffix")
    export.add_argument("--filter", metavar="JSON", help="MongoDB-style filter of the runs")
    export.set_defaults(func=_export)

    recover = sub.add_parser(
        "recover", parents=[store],
        help="compact the write-ahead logs of runs whose writer died and mark them crashed",
    )
    recover.set_defaults(func=_recover)

    gc = sub.add_parser(
        "gc", parents=[store], help="delete artifact objects that no artifact version references"
    )
    gc.add_argument("--grace", type=float, default=3600.0, metavar="SECONDS",
                    help="spare objects newer than this: a log may be in progress (default 3600)")
    gc.set_defaults(func=_gc)

    # Listed for `runlake --help` only: main() hands `run ...` to runlake.cli.run unparsed.
    sub.add_parser("run", help="run a command with `import wandb` resolving to runlake "
                               "(runlake run -- python train.py)", add_help=False)
    return parser


# -- commands -----------------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> None:
    from runlake.cli.demo import main as demo_main

    demo_main(args.runs, args.steps, args.dir)


def _runs(args: argparse.Namespace) -> None:
    from runlake.query import Api

    api = Api(args.dir)
    filters = _filters(args.filter)
    paths = [args.path] if args.path else [p.path for p in api.projects()]
    selected = []
    for path in paths:  # (validated and looked up before anything is printed)
        runs = api.runs(path, filters=filters, order=args.order,
                        per_page=min(args.limit or 50, 50))
        for run in runs:
            if args.limit is not None and len(selected) >= args.limit:
                break
            selected.append(run)
    if not selected:
        print(f"no runs in {', '.join(paths) if paths else 'the store'} ({api.root})",
              file=sys.stderr)
        return
    summaries = [_flat(run.summary) for run in selected]
    keys = _common_keys(summaries, SUMMARY_KEYS)
    header = (["project"] if not args.path else []) + ["id", "name", "state", "created_at",
                                                      "tags", *keys]
    rows = [
        ([f"{run.entity}/{run.project}"] if not args.path else [])
        + [run.id, run.name, run.state, _time(run.created_at), ",".join(run.tags)]
        + [s.get(k) for k in keys]
        for run, s in zip(selected, summaries)
    ]
    print(_table(header, rows, digits=4))


def _history(args: argparse.Namespace) -> None:
    from runlake.query import Api

    run = Api(args.dir).run(args.path)
    keys = [k for k in args.keys.split(",") if k] if args.keys else None
    table = run.history(samples=args.samples or None, keys=keys, format="arrow",
                        stream=args.stream)
    print(_table(table.column_names, [list(r.values()) for r in table.to_pylist()], digits=6))


def _sql(args: argparse.Namespace) -> None:
    from runlake.query import Api

    relation = Api(args.dir).sql(args.query)
    if relation is not None:  # a statement such as SET returns no relation
        # DuckDB's table (types under the names, long results elided), with no raw escape
        print(_printable(str(relation), keep_newlines=True))


def _export(args: argparse.Namespace) -> None:
    from runlake.query import Api

    dest = Api(args.dir).export(args.path, args.dest, format=args.format,
                                filters=_filters(args.filter))
    print(f"wrote {dest}")


def _gc(args: argparse.Namespace) -> None:
    from runlake.engine.layout import resolve_root
    from runlake.engine.objects import gc

    removed, freed = gc(resolve_root(args.dir), args.grace)
    print(f"removed {removed} unreferenced object(s), {freed} bytes")


def _recover(args: argparse.Namespace) -> None:
    from runlake.engine.layout import resolve_root
    from runlake.engine.meta import read_json
    from runlake.engine.recovery import recover_store

    root = resolve_root(args.dir)
    recovered = recover_store(root)
    for paths in recovered:
        state = read_json(paths.meta_file).get("state")
        print(f"recovered {paths.entity}/{paths.project}/{paths.run_id} (state: {state})")
    if not recovered:
        print(f"nothing to recover in {root}", file=sys.stderr)


# -- helpers ------------------------------------------------------------------------------------


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _order_values(argv: Sequence[str]) -> list[str]:
    """`--order -created_at` as `--order=-created_at`: argparse takes a value starting with
    "-" for an option and would stop with "expected one argument"."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] == "--order" and arg.startswith("-") and not arg.startswith("--"):
            out[-1] = f"--order={arg}"
        else:
            out.append(arg)
    return out


def _filters(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"--filter is not valid JSON ({e}): {text}") from None
    if not isinstance(value, dict):
        raise ValueError(f"--filter must be a JSON object such as '{{\"state\": \"finished\"}}', got {text}")
    return value


def _one_line(error: BaseException) -> str:
    """The error's message on one line (DuckDB's span several, with a caret line)."""
    lines = [ln.strip() for ln in str(error).splitlines()]
    text = " ".join(ln for ln in lines if ln and set(ln) != {"^"})
    return _printable(text) or type(error).__name__


def _printable(text: str, keep_newlines: bool = False) -> str:
    """`text` with every control or format character escaped (`\\x1b`, `\\u202e`): names,
    tags and values come from whoever wrote the store, and a raw escape sequence could
    retitle, clear or rewrite the terminal of whoever lists it."""
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() or ch == " " or (keep_newlines and ch == "\n")
        else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


def _flat(summary: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"val/acc": {"max": 0.9}}` -> `{"val/acc.max": 0.9}`."""
    out: dict[str, Any] = {}
    for key, value in summary.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _common_keys(summaries: list[dict[str, Any]], n: int) -> list[str]:
    """The `n` summary keys most runs have (ties by name), leaving out `_`-keys."""
    counts: dict[str, int] = {}
    for s in summaries:
        for key in s:
            if not key.startswith("_"):
                counts[key] = counts.get(key, 0) + 1
    return sorted(counts, key=lambda k: (-counts[k], k))[:n]


def _time(iso: str | None) -> str:
    return "" if not iso else iso.replace("T", " ")[:19]


def _cell(value: Any, digits: int) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if 1e5 <= abs(value) < 1e15:  # e.g. a Unix time: every integer digit, then 3 decimals
            return f"{value:.3f}"
        return f"{value:.{digits}g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_cell(v, digits) for v in value) + "]"
    text = " ".join(str(value).split()) if not isinstance(value, str) else value
    text = _printable(text.replace("\n", "\\n").replace("\t", " "))
    return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 1] + "…"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], digits: int) -> str:
    """An aligned text table; columns of numbers are right-aligned."""
    cells = [[_cell(v, digits) for v in row] for row in rows]
    header = [_printable(h) for h in header]
    numeric = [
        all(isinstance(r[i], (int, float)) and not isinstance(r[i], bool)
            for r in rows if r[i] is not None) for i in range(len(header))
    ]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(header)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, cells)])


def _flush_stdout() -> None:
    # Output piped into `head` closes early: end quietly instead of with a BrokenPipeError.
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
