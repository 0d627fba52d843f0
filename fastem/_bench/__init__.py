"""Side-by-side timing of fastem against scikit-learn (``fastem bench``).

One module per job:

==================  ========================================================
``data``            the generated blobs, real datasets, the common start
                    (initial parameters or centers) and k-means inertia
``backends``        the same work on each backend: fits, the fused E-step,
                    thread settings, which backends can run
``cases``           the named cases, the defaults of each profile, selection
``timing``          the timed runs of one case (backends alternating)
``results``         the record of a case and its JSON form (``--json-out``)
``memory``          peak memory of one fit, in a fresh process
``compile_time``    import plus first fit, in a fresh process
``child``           running a fresh interpreter that imports the same fastem
``onedal``          Intel oneDAL's EM, an optional backend in an interpreter
                    of its own (``--onedal-python``)
``onedal_child``    the script that interpreter runs (NumPy and daal4py only)
``machine``         the machine and library versions of the report
``render``          the markdown report
``command``         the ``fastem bench`` command line
==================  ========================================================

The asv suite in ``benchmarks/`` runs ``data``, ``backends``, ``compile_time``
and ``child`` too, loaded from the checkout by file path while an *older* fastem
is installed (see ``benchmarks/common.py``). Those four modules therefore import
only the standard library, NumPy, SciPy and scikit-learn at module level, import
each other relatively, and import fastem lazily and by public names only
(``fastem``, ``fastem.kernels``); ``tests/test_bench.py`` checks this rule.
This package's ``__init__`` imports nothing, so that loading it costs nothing.
"""
