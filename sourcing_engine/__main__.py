"""`python -m sourcing_engine`: the same command line as `sourcing-engine`."""

import sys

from sourcing_engine.cli import main

sys.exit(main())
