"""Model files: a fitted estimator as plain numeric arrays and JSON, never a pickle.

:func:`save` writes an ``.npz`` archive (NumPy's zip of ``.npy`` arrays):

- ``__fastem__``: UTF-8 JSON, as a uint8 array: ``format`` ("fastem-model"),
  ``format_version``, ``fastem_version``, ``class``, the constructor
  ``params`` and every fitted attribute, each described as a JSON value, a
  list of strings (``feature_names_in_``), a reference to an array in the
  archive, or a list, tuple or dict of those;
- one array per numeric value, named ``a0``, ``a1``, ...

:func:`load` reads it with ``allow_pickle=False``, so a file cannot make
Python run code, and checks what it rebuilds before returning it: the format
and its version, the class, the constructor parameters (scikit-learn's own
validation), every array finite, and the shapes and factors of the fitted
parameters consistent with each other and with ``n_features_in_``. A file that
fails any check raises a ``ValueError`` that names the file and the problem.

:func:`save` writes to a temporary file in the target's directory and renames
it over the target (``os.replace``) only once it is complete and flushed to
disk, so a crash or a full disk never leaves half a model behind.
"""

import json
import warnings
import zipfile
from pathlib import Path

import numpy as np

from ._atomic import atomic_path
from .kernels._gaussian import _expected_chol_shape

FORMAT = "fastem-model"
FORMAT_VERSION = 1
_META = "__fastem__"


class _Unencodable(Exception):
    pass


class ModelFileMixin:
    """``save(path)`` for fastem's estimators (read back by :func:`load`)."""

    def save(self, path):
        """Write the fitted model to a model file (``.npz``), atomically.

        Plain numeric arrays and JSON metadata (class, parameters, fastem and
        format versions), never a pickle; read it back with
        :func:`fastem.load`, which checks it and predicts exactly as this
        model does (see :mod:`fastem._io`).

        Parameters
        ----------
        path : str or os.PathLike
            The file to write; an existing file is replaced only once the new
            one is complete.
        """
        save(self, path)


# -- encoding --------------------------------------------------------------------


def _encode(value, arrays):
    """Return a JSON description of ``value``, putting its arrays into ``arrays``."""
    if value is None or isinstance(value, (bool, str)):
        return {"json": value}
    if isinstance(value, (int, float, np.integer, np.floating, np.bool_)):
        return {"json": value.item() if isinstance(value, np.generic) else value}
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":
            key = f"a{len(arrays)}"
            arrays[key] = value
            return {"array": key}
        if value.dtype.kind in "OU" and all(isinstance(v, str) for v in value.flat):
            return {"strings": [str(v) for v in value.ravel()]}
        raise _Unencodable(f"an array of dtype {value.dtype}")
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return {kind: [_encode(item, arrays) for item in value]}
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {"dict": {key: _encode(item, arrays) for key, item in value.items()}}
    raise _Unencodable(type(value).__name__)


def _decode(description, arrays, where):
    """Rebuild a value :func:`_encode` described (``where`` names it in errors)."""
    if not isinstance(description, dict) or len(description) != 1:
        raise ValueError(f"{where} is not a value description")
    ((kind, content),) = description.items()
    if kind == "json":
        return content
    if kind == "array":
        if content not in arrays:
            raise ValueError(f"{where} refers to a missing array {content!r}")
        return arrays[content]
    if kind == "strings":
        return np.array(content, dtype=object)
    if kind in ("list", "tuple"):
        items = [
            _decode(item, arrays, f"{where}[{i}]") for i, item in enumerate(content)
        ]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {
            key: _decode(item, arrays, f"{where}.{key}")
            for key, item in content.items()
        }
    raise ValueError(f"{where} has an unknown kind {kind!r}")


def _fitted_attributes(estimator):
    """Return the instance attributes that are not constructor parameters."""
    params = set(estimator.get_params(deep=False))
    return {
        name: value for name, value in vars(estimator).items() if name not in params
    }


def save(estimator, path):
    """Write a fitted estimator to ``path`` (an ``.npz`` model file), atomically.

    Parameters
    ----------
    estimator : GaussianMixture, BayesianGaussianMixture or KMeans
        Fitted.
    path : str or os.PathLike
        The file to write (replaced if it exists; no extension is added).

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    ValueError
        For a value that has no portable form (a callable ``init``; a Dask
        ``labels_`` is left out instead, see below).
    """
    from sklearn.utils.validation import check_is_fitted

    from . import __version__

    check_is_fitted(estimator)
    arrays = {}
    params = {}
    for name, value in estimator.get_params(deep=False).items():
        try:
            params[name] = _encode(value, arrays)
        except _Unencodable as error:
            if name != "random_state":
                raise ValueError(
                    f"Cannot save {type(estimator).__name__}: its parameter {name!r} "
                    f"({error}) has no portable form."
                ) from None
            warnings.warn(
                "random_state is a RandomState instance, which a model file cannot "
                "hold; it is saved as None.",
                UserWarning,
                stacklevel=3,
            )
            params[name] = {"json": None}
    attributes = {}
    for name, value in _fitted_attributes(estimator).items():
        try:
            attributes[name] = _encode(value, arrays)
        except _Unencodable:
            if name == "labels_":  # a lazy Dask array: the rows' labels are not kept
                continue
            if name.startswith("_"):  # private scratch state: rebuilt when needed
                continue
            raise ValueError(
                f"Cannot save {type(estimator).__name__}: its attribute {name!r} "
                f"({type(value).__name__}) has no portable form."
            ) from None
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fastem_version": __version__,
        "class": type(estimator).__name__,
        "params": params,
        "attributes": attributes,
    }
    arrays[_META] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    _write_atomically(Path(path), arrays)


def _write_atomically(path, arrays):
    with atomic_path(path) as temporary, open(temporary, "wb") as stream:
        np.savez(stream, **arrays)


# -- loading -----------------------------------------------------------------------


def _classes():
    from .bayesian_mixture import BayesianGaussianMixture
    from .gaussian_mixture import GaussianMixture
    from .kmeans import KMeans

    return {
        cls.__name__: cls for cls in (GaussianMixture, BayesianGaussianMixture, KMeans)
    }


def _read(path):
    """``(meta, arrays)`` of a model file, never unpickling anything."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise ValueError(
                f"Model file {path} holds pickled Python objects; fastem never "
                "unpickles (that could run code from the file)."
            ) from None
        raise ValueError(f"Model file {path} is not a readable .npz: {error}") from None
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise ValueError(
            f"Model file {path} is corrupt or truncated ({error})."
        ) from None
    if _META not in arrays:
        raise ValueError(f"{path} is not a fastem model file (no {_META} entry).")
    try:
        meta = json.loads(arrays.pop(_META).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(
            f"Model file {path}: its metadata is not JSON ({error})."
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a fastem model file.")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        raise ValueError(
            f"Model file {path} has format version {version!r}"
            + (", written by a newer fastem" if newer else "")
            + f"; this fastem reads version {FORMAT_VERSION}."
        )
    return meta, arrays


def load(path):
    """Read a model file written by :meth:`save`: the fitted estimator.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    GaussianMixture, BayesianGaussianMixture or KMeans
        Fitted; it predicts exactly as the saved estimator did.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is not a fastem model file, is corrupt, truncated, of
        another format version, holds pickled objects, or holds parameters
        that are not finite or do not agree with each other.
    """
    return read_model(path)[0]


def read_model(path):
    """Read and check a model file: ``(estimator, metadata)``, as :func:`load`."""
    meta, arrays = _read(path)
    classes = _classes()
    name = meta.get("class")
    if name not in classes:
        raise ValueError(
            f"Model file {path} names class {name!r}; fastem saves "
            f"{', '.join(sorted(classes))}."
        )
    try:
        params = {
            key: _decode(value, arrays, f"parameter {key!r}")
            for key, value in meta["params"].items()
        }
        attributes = {
            key: _decode(value, arrays, f"attribute {key!r}")
            for key, value in meta["attributes"].items()
        }
        estimator = classes[name](**params)
        estimator._validate_params()
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"Model file {path}: {error}") from None
    try:
        _check_attributes(estimator, attributes)
    except ValueError as error:
        raise ValueError(f"Model file {path}: {error}") from None
    estimator.__dict__.update(attributes)
    return estimator, meta


# -- checks of what a file holds ----------------------------------------------------


def _check_attributes(estimator, attributes):
    """Raise ``ValueError`` unless the fitted attributes form a valid model."""
    for name, value in attributes.items():
        for array in _arrays_in(value):
            if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
                raise ValueError(f"{name} holds NaN or infinite values.")
    n_features = attributes.get("n_features_in_")
    if not isinstance(n_features, int) or n_features < 1:
        raise ValueError(f"n_features_in_ must be a positive int, got {n_features!r}.")
    if "cluster_centers_" in attributes:
        _check_kmeans(estimator, attributes, n_features)
    else:
        _check_mixture(estimator, attributes, n_features)


def _arrays_in(value):
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _arrays_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _arrays_in(item)


def _shape(attributes, name, shape):
    """Return an attribute in float64 (its float64 twin if any), shape checked."""
    value = attributes.get(name)
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
        raise ValueError(f"{name} is missing or not a float array.")
    if value.shape != shape:
        raise ValueError(f"{name} has shape {value.shape}, expected {shape}.")
    twins = attributes.get("_float64_twins")
    twin = twins.get(name) if isinstance(twins, dict) else None
    if (
        isinstance(twin, np.ndarray)
        and twin.shape == shape
        and np.array_equal(twin.astype(value.dtype), value)
    ):
        return twin.astype(np.float64)
    return value.astype(np.float64)


def _check_kmeans(estimator, attributes, n_features):
    k = estimator.n_clusters
    _shape(attributes, "cluster_centers_", (k, n_features))
    labels = attributes.get("labels_")
    if labels is not None and (
        not isinstance(labels, np.ndarray)
        or labels.ndim != 1
        or (labels.size and (labels.min() < 0 or labels.max() >= k))
    ):
        raise ValueError(f"labels_ must hold cluster indices in [0, {k}).")


def _check_mixture(estimator, attributes, n_features):
    k, d = estimator.n_components, n_features
    cov_type = estimator.covariance_type
    shapes = _expected_chol_shape(cov_type, k, d)
    weights = _shape(attributes, "weights_", (k,))
    if np.any(weights < 0) or abs(weights.sum() - 1.0) > 1e-5:
        raise ValueError("weights_ must be non-negative and sum to 1.")
    _shape(attributes, "means_", (k, d))
    covariances = _shape(attributes, "covariances_", shapes)
    chol = _shape(attributes, "precisions_cholesky_", shapes)
    precisions = _shape(attributes, "precisions_", shapes)
    if cov_type in ("full", "tied"):
        factors = chol.reshape(-1, d, d)
        if np.any(np.tril(factors, -1) != 0) or np.any(
            np.diagonal(factors, axis1=1, axis2=2) <= 0
        ):
            raise ValueError(
                "precisions_cholesky_ is not an upper-triangular factor with a "
                "positive diagonal (not positive definite)."
            )
        products = factors @ np.swapaxes(factors, 1, 2)
        # U^T C U = I for C the covariance and U its precision factor: the
        # well-conditioned form of "C is the inverse of U U^T".
        identity = np.swapaxes(factors, 1, 2) @ covariances.reshape(-1, d, d) @ factors
        inverse_gap = np.abs(identity - np.eye(d)).max()
        precision_gap = np.abs(products - precisions.reshape(-1, d, d)).max() / max(
            1.0, np.abs(products).max()
        )
    else:
        if np.any(chol <= 0):
            raise ValueError("precisions_cholesky_ must be positive.")
        inverse_gap = np.abs(covariances * chol**2 - 1.0).max()
        precision_gap = np.abs(chol**2 - precisions).max() / max(
            1.0, np.abs(precisions).max()
        )
    tolerance = 1e-3 if attributes["means_"].dtype == np.float32 else 1e-6
    if precision_gap > tolerance:
        raise ValueError("precisions_ does not match precisions_cholesky_.")
    if inverse_gap > tolerance:
        raise ValueError("covariances_ is not the inverse of the precisions.")
