"""`runlake run -- CMD [ARGS...]`: run CMD with the wandb alias on its import path.

CMD replaces this process (os.execvpe: its exit code is the command's, signals reach it
directly) with $PYTHONPATH starting with the alias folder, so `import wandb` in it, and in
every process it starts (torchrun and DDP workers, subprocesses), is runlake.
"""

from __future__ import annotations

import os
import sys

USAGE = "usage: runlake run [--] CMD [ARGS...]"
HELP = f"""{USAGE}

Run CMD with `import wandb` resolving to runlake (in CMD and every process it starts), e.g.
    runlake run -- python train.py --epochs 3
    runlake run -- torchrun --nproc-per-node 2 train.py
Runs land in the store: $RUNLAKE_DIR, else wandb's dir=/$WANDB_DIR, else ./runlake-store.
"""


def main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        print(HELP, end="")
        return 0
    command = argv[1:] if argv[:1] == ["--"] else argv
    if not command:
        print(f"runlake: error: no command to run; {USAGE}, e.g. "
              "`runlake run -- python train.py`", file=sys.stderr)
        return 2
    from runlake.compat.alias import alias_env

    env = alias_env()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], command, env)
    except FileNotFoundError:
        print(f"runlake: error: command not found: {command[0]!r}", file=sys.stderr)
        return 127
    except PermissionError:
        print(f"runlake: error: command is not executable: {command[0]!r}", file=sys.stderr)
        return 126
    return 0  # not reached: execvpe returns only by raising
