"""The M-step's triangle helpers against NumPy's tril/triu/inv."""

import numpy as np
import pytest

from fastem._triangles import inverse_transpose, symmetric_from_lower, upper


@pytest.mark.parametrize("shape", [(1, 1), (5, 5), (3, 7, 7), (2, 3, 4, 4)])
def test_upper_is_triu(shape):
    matrix = np.random.default_rng(0).normal(size=shape)
    np.testing.assert_array_equal(upper(matrix), np.triu(matrix))
    upper(matrix)[..., 0, 0] = 99.0  # a new array, the input untouched
    assert matrix[(0,) * matrix.ndim] != 99.0


@pytest.mark.parametrize("shape", [(1, 1), (6, 6), (4, 9, 9)])
def test_symmetric_from_lower_ignores_the_upper_triangle(shape):
    rng = np.random.default_rng(1)
    lower = np.tril(rng.normal(size=shape))
    garbage = lower + np.triu(rng.normal(size=shape), 1)
    expected = lower + np.swapaxes(np.tril(lower, -1), -1, -2)
    for given in (lower, garbage):
        result = symmetric_from_lower(given)
        np.testing.assert_array_equal(result, expected)
        np.testing.assert_array_equal(result, np.swapaxes(result, -1, -2))


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (5, 8, 8), (2, 32, 32)])
def test_inverse_transpose_inverts_cholesky_factors(shape):
    rng = np.random.default_rng(2)
    a = rng.normal(size=shape)
    spd = a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])
    factor = np.linalg.cholesky(spd)
    result = inverse_transpose(factor)
    expected = np.swapaxes(np.linalg.inv(factor), -1, -2)
    assert result.shape == factor.shape and result.dtype == np.float64
    np.testing.assert_array_equal(result, np.triu(result))
    np.testing.assert_allclose(result, np.triu(expected), rtol=1e-12, atol=1e-14)
    # U U^T is the precision, the inverse of the covariance.
    precision = result @ np.swapaxes(result, -1, -2)
    np.testing.assert_allclose(
        precision @ spd, np.broadcast_to(np.eye(shape[-1]), shape), atol=1e-12
    )
    # Entries above the factor's diagonal are ignored.
    noisy = factor + np.triu(rng.normal(size=shape), 1)
    np.testing.assert_array_equal(inverse_transpose(noisy), result)


def test_inverse_transpose_of_a_singular_factor_raises():
    factor = np.array([[1.0, 0.0], [2.0, 0.0]])
    with pytest.raises(np.linalg.LinAlgError, match="Singular"):
        inverse_transpose(factor)
