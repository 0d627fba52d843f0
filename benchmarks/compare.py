"""One-run comparison table: ``python benchmarks/compare.py [options]``.

The same as ``fastem bench``; the code lives in :mod:`fastem._bench` so that it
works from an installed package. Run from a source checkout, the checkout's
``fastem`` is used when no other one is installed.
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    try:
        import fastem._bench.command  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from fastem._bench.command import main

    sys.exit(main())
