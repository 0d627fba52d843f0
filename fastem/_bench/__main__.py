"""``python -m fastem._bench``: the same as ``fastem bench``."""

import sys

from .command import main

sys.exit(main())
