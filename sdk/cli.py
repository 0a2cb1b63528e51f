"""The `runlake` command: `runlake demo`, `runlake sql QUERY`."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="runlake", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="log a few demo runs and query them")
    demo.add_argument("--runs", type=int, default=4)
    demo.add_argument("--steps", type=int, default=2000)
    demo.add_argument("--dir", default=None, help="store root (default: $RUNLAKE_DIR or ./runlake)")
    sql = sub.add_parser("sql", help="run SQL over the views `history` and `runs`")
    sql.add_argument("query")
    sql.add_argument("--dir", default=None)
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import main as demo_main

        demo_main(args.runs, args.steps, args.dir)
    elif args.command == "sql":
        import runlake.query

        print(runlake.query.sql(args.query, root=args.dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
