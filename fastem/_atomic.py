"""Atomic file writes: a temporary file next to the target, renamed over it.

Used for every file fastem writes (model files, the command line's outputs
and figures), so an error, a full disk or an interrupt never leaves half a
file: the target either keeps its old content or gets the complete new one.
"""

import contextlib
import os
import tempfile
from pathlib import Path


def _new_file_mode():
    """Return the permissions ``open()`` gives a new file (0o666 less the umask).

    The umask is read from ``/proc/self/status`` where Linux provides it; the
    fallback sets and restores it (``os.umask`` can only be read that way).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; rename it over ``path`` on success.

    The body writes the temporary file (by name). On success it is flushed
    to disk, given the permissions of a newly created file, and renamed over
    ``path``; on any exception (or interrupt) it is removed and ``path`` is
    left as it was.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write; its directory must exist.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=directory
    )
    os.close(handle)
    try:
        yield Path(temporary)
        with open(temporary, "rb+") as stream:
            os.fsync(stream.fileno())
        os.chmod(temporary, _new_file_mode())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
