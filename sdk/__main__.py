import sys

from runlake.cli.commands import main

sys.exit(main())
