"""Data files for the command line: read a 2-D numeric array, write rows atomically.

:func:`read_data` reads ``.npy`` (memory-mapped, so a file larger than memory
is read block by block by the fit), ``.npz``, ``.csv`` (comma-separated,
with or without a header line) and ``.parquet`` (with pyarrow). Every problem
(missing file, unknown extension, ragged or non-numeric rows, NaN or infinite
values in a text file, pickled objects) raises a ``ValueError`` (or
``FileNotFoundError``) whose one-line message names the file and, for text,
the line and column.

:func:`write_rows` writes an array of per-row results (``.npy`` or ``.csv``)
slab by slab into a temporary file next to the target and renames it over the
target once it is complete, so an error or an interrupt never leaves a partial
file. :func:`check_output` tells before any work whether a path can be
written.
"""

import csv
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np

from ._atomic import atomic_path
from ._config import slabs

DATA_FORMATS = (".npy", ".npz", ".csv", ".parquet")
ROW_FORMATS = (".npy", ".csv")

#: Arrays tried, in order, in an ``.npz`` holding several (``x`` is the
#: name in ``/work/shared/data``'s files, ``X`` scikit-learn's habit).
NPZ_KEYS = ("X", "x", "data")


def read_data(path, key=None):
    """Read a data file into a 2-D numeric array (a memory map for ``.npy``).

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npy``, ``.npz``, ``.csv`` or ``.parquet`` file, one row per sample.
    key : str, default=None
        The array to read from an ``.npz`` holding several; by default the
        only one, or the first of ``X``, ``x``, ``data`` present.

    Returns
    -------
    ndarray of shape (n_samples, n_features)
        Integer, boolean or floating; the estimators convert it.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        For an unknown extension, an unreadable or malformed file, or one that
        does not hold a non-empty 2-D numeric table.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in DATA_FORMATS:
        raise ValueError(
            f"{path}: unknown data format {suffix or '(no extension)'!r}; "
            f"expected one of {', '.join(DATA_FORMATS)}."
        )
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file.")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a data file.")
    if key is not None and suffix != ".npz":
        raise ValueError(f"{path}: --key applies to .npz files only.")
    reader = {
        ".npy": _read_npy,
        ".npz": _read_npz,
        ".csv": _read_csv,
        ".parquet": _read_parquet,
    }[suffix]
    X = reader(path, key) if suffix == ".npz" else reader(path)
    return _check_table(path, X)


def _check_table(path, X):
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{path}: holds {X.dtype} values; expected numbers.")
    if X.ndim != 2:
        hint = " (one column: reshape it to (n, 1))" if X.ndim == 1 else ""
        raise ValueError(
            f"{path}: holds an array of shape {X.shape}; expected 2-D "
            f"(rows x features){hint}."
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{path}: holds an empty table of shape {X.shape}.")
    return X


def _read_npy(path):
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as error:
        if "object" in str(error) or "pickle" in str(error):
            raise ValueError(
                f"{path}: holds Python objects; fastem never unpickles data."
            ) from None
        raise ValueError(
            f"{path}: not a valid .npy file, corrupt or truncated ({error})."
        ) from None
    except (OSError, EOFError) as error:
        raise ValueError(f"{path}: corrupt or truncated .npy ({error}).") from None


def _read_npz(path, key):
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            if key is None:
                present = [name for name in NPZ_KEYS if name in names]
                if len(names) == 1:
                    key = names[0]
                elif present:
                    key = present[0]
                else:
                    raise ValueError(
                        f"{path}: holds the arrays {', '.join(names) or '(none)'}; "
                        "choose one with --key."
                    )
            if key not in names:
                raise ValueError(
                    f"{path}: has no array {key!r} (it holds {', '.join(names)})."
                )
            return archive[key]
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise ValueError(
                f"{path}: holds Python objects; fastem never unpickles data."
            ) from None
        if str(error).startswith(str(path)):
            raise
        raise ValueError(f"{path}: not a readable .npz file ({error}).") from None
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: corrupt or truncated .npz ({error}).") from None


# -- CSV ----------------------------------------------------------------------------


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(path):
    try:
        with open(path, newline="", encoding="utf-8-sig") as stream:
            first = next(csv.reader(stream), None)
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a UTF-8 text file.") from None
    if first is None:
        raise ValueError(f"{path}: is empty.")
    header = not all(_is_number(field) for field in first)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "no data": raised below
            X = np.loadtxt(
                path,
                delimiter=",",
                skiprows=int(header),
                ndmin=2,
                comments=None,
                quotechar='"',
                encoding="utf-8-sig",
            )
    except ValueError as error:
        raise ValueError(_csv_problem(path, header) or f"{path}: {error}") from None
    if X.size == 0:
        raise ValueError(f"{path}: has no data rows.")
    if not np.isfinite(X).all():
        row, column = np.argwhere(~np.isfinite(X))[0]
        line = _csv_line_of_row(path, header, row)
        raise ValueError(
            f"{path}: line {line}, column {column + 1} is {X[row, column]}; "
            "fastem cannot fit missing or infinite values."
        )
    return X


def _csv_rows(path, header):
    """Yield ``(line number, fields)`` of the data rows, as ``np.loadtxt`` does."""
    with open(path, newline="", encoding="utf-8-sig") as stream:
        reader = csv.reader(stream)
        for fields in reader:
            if reader.line_num == 1 and header:
                continue
            if not fields:  # an empty line
                continue
            yield reader.line_num, fields


def _csv_problem(path, header):
    """Describe the first malformed data row in one line (None if none)."""
    width = None
    for line, fields in _csv_rows(path, header):
        if width is None:
            width = len(fields)
        if len(fields) != width:
            values = "value" if len(fields) == 1 else "values"
            return (
                f"{path}: line {line} has {len(fields)} {values}, the rows before "
                f"it {width}."
            )
        for column, field in enumerate(fields, 1):
            if not _is_number(field):
                return (
                    f"{path}: line {line}, column {column}: {field!r} is not a number."
                )
    return None


def _csv_line_of_row(path, header, row):
    for index, (line, _) in enumerate(_csv_rows(path, header)):
        if index == row:
            return line
    return "?"


# -- Parquet --------------------------------------------------------------------------


def _read_parquet(path):
    try:
        import pyarrow.parquet as parquet
        import pyarrow.types as types
    except ImportError:
        raise ValueError(
            f"{path}: reading .parquet needs pyarrow (pip install pyarrow)."
        ) from None
    try:
        table = parquet.read_table(path)
    except Exception as error:  # pyarrow raises its own ArrowInvalid, OSError
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"{path}: not a readable Parquet file ({message}).") from None
    numeric = (types.is_integer, types.is_floating, types.is_boolean)
    bad = [
        field.name
        for field in table.schema
        if not any(is_type(field.type) for is_type in numeric)
    ]
    if bad:
        raise ValueError(
            f"{path}: column(s) {', '.join(map(repr, bad))} are not numeric."
        )
    missing = [name for name in table.column_names if table.column(name).null_count]
    if missing:
        raise ValueError(
            f"{path}: column(s) {', '.join(map(repr, missing))} have missing "
            "values; fastem cannot fit them."
        )
    if table.num_columns == 0:
        raise ValueError(f"{path}: has no columns.")
    columns = [table.column(i).to_numpy() for i in range(table.num_columns)]
    X = np.column_stack(columns).astype(np.result_type(*columns, np.float32))
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        row, column = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(
            f"{path}: row {row + 1}, column {table.column_names[column]!r} is "
            f"{X[row, column]}; fastem cannot fit missing or infinite values."
        )
    return X


# -- output ---------------------------------------------------------------------------


def check_output(path, formats, what):
    """Raise ``ValueError`` unless ``path`` can be written as one of ``formats``.

    Called before any work, so a long fit does not end in an unwritable path.

    Parameters
    ----------
    path : str or os.PathLike
    formats : tuple of str
        Allowed extensions (lower case, with the dot).
    what : str
        What the file is, for the message (``"-o"``, ``"--plot"``).
    """
    path = Path(path)
    if path.suffix.lower() not in formats:
        raise ValueError(
            f"{what} {path}: expected a file name ending in {' or '.join(formats)}."
        )
    if path.is_dir():
        raise ValueError(f"{what} {path} is a directory.")
    directory = path.parent
    if not directory.is_dir():
        raise ValueError(f"{what} {path}: directory {directory} does not exist.")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {path}: directory {directory} is not writable.")
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"{what} {path}: the file exists and is not writable.")


def write_rows(path, n_rows, columns, dtype, rows, header=None):
    """Write ``rows(start, stop)`` for every slab of ``n_rows`` rows, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        ``.npy`` (written through a memory map: memory stays one slab) or
        ``.csv``.
    n_rows : int
    columns : int or None
        Columns per row; None for a 1-D result.
    dtype : dtype
    rows : callable
        ``rows(start, stop)`` returns the results of rows ``start:stop``.
    header : list of str, default=None
        Column names for a ``.csv``.
    """
    shape = (n_rows,) if columns is None else (n_rows, columns)
    with atomic_path(path) as temporary:
        if Path(path).suffix.lower() == ".npy":
            out = np.lib.format.open_memmap(temporary, "w+", dtype, shape)
            for start, stop in slabs(n_rows):
                out[start:stop] = rows(start, stop)
            out.flush()
            del out
        else:
            fmt = "%d" if np.dtype(dtype).kind in "iu" else "%.17g"
            with open(temporary, "w", encoding="utf-8") as stream:
                if header:
                    stream.write(",".join(header) + "\n")
                for start, stop in slabs(n_rows):
                    np.savetxt(stream, rows(start, stop), fmt=fmt, delimiter=",")
