"""`python -m handseg` runs the CLI."""

import sys

from handseg.cli import main

sys.exit(main())
