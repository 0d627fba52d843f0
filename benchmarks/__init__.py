"""asv benchmarks: fastem against scikit-learn (see README.md in this folder)."""
