"""Compiled kernels: arrays and scalars in, arrays out, no input checking.

Every function here trusts its caller (:mod:`fastem.kernels` and the estimators)
to pass C-contiguous float32/float64 data and well-formed float64 parameters.
"""
