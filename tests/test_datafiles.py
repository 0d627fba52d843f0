"""Data files of the command line (reading every format, atomic writes)."""

import os
import stat

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from fastem import _atomic
from fastem._datafiles import check_output, read_data, write_rows

X = np.array([[1.0, -2.5, 3e-8], [4.0, 5.0, 6.0], [7.25, 8.0, -9.0]])


def test_npy_is_memory_mapped(tmp_path):
    np.save(tmp_path / "x.npy", X)
    data = read_data(tmp_path / "x.npy")
    assert isinstance(data, np.memmap) and not data.flags.writeable
    assert_array_equal(data, X)


def test_integer_npy_is_kept_as_integers(tmp_path):
    np.save(tmp_path / "x.npy", X.astype(np.int16))
    assert read_data(tmp_path / "x.npy").dtype == np.int16


def test_npz_picks_the_only_array_or_a_known_name_or_key(tmp_path):
    np.savez(tmp_path / "one.npz", anything=X)
    assert_array_equal(read_data(tmp_path / "one.npz"), X)
    np.savez(tmp_path / "two.npz", x=X, y=np.zeros(3))
    assert_array_equal(read_data(tmp_path / "two.npz"), X)
    np.savez(tmp_path / "other.npz", a=X, b=2 * X)
    assert_array_equal(read_data(tmp_path / "other.npz", key="b"), 2 * X)
    with pytest.raises(ValueError, match="holds the arrays a, b; choose one with"):
        read_data(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="has no array 'c' \\(it holds a, b\\)"):
        read_data(tmp_path / "other.npz", key="c")
    np.save(tmp_path / "x.npy", X)
    with pytest.raises(ValueError, match="--key applies to .npz files only"):
        read_data(tmp_path / "x.npy", key="x")


@pytest.mark.parametrize(
    "text",
    [
        "1,-2.5,3e-8\n4,5,6\n7.25,8,-9\n",
        "a,b,c\n1,-2.5,3e-8\n4,5,6\n7.25,8,-9\n",
        '\ufeff"a","b","c"\r\n"1",-2.5,3e-8\r\n4,5,6\r\n\r\n7.25,8,-9\r\n',
    ],
    ids=["plain", "header", "bom-quotes-crlf-blank"],
)
def test_csv_with_or_without_header(tmp_path, text):
    (tmp_path / "x.csv").write_text(text, encoding="utf-8", newline="")
    assert_array_equal(read_data(tmp_path / "x.csv"), X)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "is empty"),
        ("a,b\n", "has no data rows"),
        ("1,2\n3,inf\n", "line 2, column 2 is inf"),
        ("1,2\n\n3,\n", "line 3, column 2: '' is not a number"),
        ("1,2\n3,4,5\n", "line 2 has 3 values, the rows before it 2"),
        ("1\n2,3\n", "line 2 has 2 values, the rows before it 1"),
    ],
)
def test_bad_csv(tmp_path, text, message):
    (tmp_path / "x.csv").write_text(text)
    with pytest.raises(ValueError, match=message):
        read_data(tmp_path / "x.csv")


def test_one_column_csv_is_a_column(tmp_path):
    (tmp_path / "x.csv").write_text("value\n1\n2\n3\n")
    assert read_data(tmp_path / "x.csv").shape == (3, 1)


def test_parquet(tmp_path):
    pyarrow = pytest.importorskip("pyarrow")
    import pyarrow.parquet as parquet

    table = pyarrow.table({"a": X[:, 0], "b": X[:, 1].astype(np.float32), "c": X[:, 2]})
    parquet.write_table(table, tmp_path / "x.parquet")
    data = read_data(tmp_path / "x.parquet")
    assert data.dtype == np.float64
    assert_array_equal(data[:, [0, 2]], X[:, [0, 2]])
    assert_array_equal(data[:, 1], X[:, 1].astype(np.float32))
    parquet.write_table(
        pyarrow.table({"a": [1.0, 2.0], "name": ["x", "y"]}), tmp_path / "s.parquet"
    )
    with pytest.raises(ValueError, match="column\\(s\\) 'name' are not numeric"):
        read_data(tmp_path / "s.parquet")
    parquet.write_table(pyarrow.table({"a": [1.0, None]}), tmp_path / "n.parquet")
    with pytest.raises(ValueError, match="'a' have missing values"):
        read_data(tmp_path / "n.parquet")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(ValueError, match="not a readable Parquet file"):
        read_data(tmp_path / "bad.parquet")


@pytest.mark.parametrize(
    "array, message",
    [
        (np.ones(4), "expected 2-D .* reshape it to \\(n, 1\\)"),
        (np.ones((2, 2, 2)), "expected 2-D"),
        (np.ones((0, 3)), "empty table"),
        (np.array([["a", "b"]]), "holds <U1 values; expected numbers"),
        (np.ones((2, 2), dtype=complex), "expected numbers"),
    ],
)
def test_not_a_numeric_table(tmp_path, array, message):
    np.save(tmp_path / "x.npy", array)
    with pytest.raises(ValueError, match=message):
        read_data(tmp_path / "x.npy")


def test_pickled_arrays_are_refused(tmp_path):
    objects = np.array([[1, "a"]], dtype=object)
    np.save(tmp_path / "x.npy", objects, allow_pickle=True)
    np.savez(tmp_path / "x.npz", x=objects)
    for name in ("x.npy", "x.npz"):
        with pytest.raises(ValueError, match="Python objects; fastem never unpickles"):
            read_data(tmp_path / name)


def test_missing_and_unknown(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_data(tmp_path / "x.csv")
    (tmp_path / "x.txt").write_text("1,2\n")
    with pytest.raises(ValueError, match="unknown data format '.txt'; expected one"):
        read_data(tmp_path / "x.txt")
    (tmp_path / "d.npy").mkdir()
    with pytest.raises(ValueError, match="is a directory"):
        read_data(tmp_path / "d.npy")


def test_check_output(tmp_path):
    check_output(tmp_path / "out.npy", (".npy", ".csv"), "-o")
    with pytest.raises(ValueError, match="-o .*out.txt: expected a file name ending"):
        check_output(tmp_path / "out.txt", (".npy", ".csv"), "-o")
    with pytest.raises(ValueError, match="directory .*absent does not exist"):
        check_output(tmp_path / "absent" / "out.npy", (".npy",), "-o")
    (tmp_path / "dir.npy").mkdir()
    with pytest.raises(ValueError, match="is a directory"):
        check_output(tmp_path / "dir.npy", (".npy",), "-o")


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_write_rows_in_slabs(tmp_path, suffix, monkeypatch):
    monkeypatch.setattr("fastem._config.SLAB_ROWS", 7)
    values = np.arange(50 * 3, dtype=np.float64).reshape(50, 3) / 7
    calls = []

    def rows(start, stop):
        calls.append((start, stop))
        return values[start:stop]

    path = tmp_path / f"out{suffix}"
    write_rows(path, 50, 3, np.float64, rows, header=["a", "b", "c"])
    assert calls[0] == (0, 7) and calls[-1] == (49, 50) and len(calls) == 8
    if suffix == ".npy":
        assert_array_equal(np.load(path), values)
    else:
        assert path.read_text().startswith("a,b,c\n")
        assert_array_equal(np.loadtxt(path, delimiter=",", skiprows=1), values)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.npy"
    np.save(path, np.arange(3))

    def rows(start, stop):
        if start > 0:
            raise KeyboardInterrupt
        return np.zeros(stop - start)

    with pytest.raises(KeyboardInterrupt):
        write_rows(path, 100_000, None, np.float64, rows)
    assert_array_equal(np.load(path), np.arange(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npy"]


def test_atomic_files_get_the_permissions_of_a_new_file(tmp_path):
    umask = os.umask(0o027)
    try:
        with _atomic.atomic_path(tmp_path / "f.bin") as temporary:
            temporary.write_bytes(b"x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "f.bin").stat().st_mode) == 0o640
