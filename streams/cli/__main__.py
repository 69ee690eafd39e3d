"""`python -m streams.cli`: the same as the `arbiter` console script."""

import sys

from streams.cli.main import main

sys.exit(main())
