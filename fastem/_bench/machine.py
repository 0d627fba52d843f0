"""The machine and library versions printed at the end of the report."""

import contextlib
import os
import platform
import subprocess
from pathlib import Path

import numpy as np


def machine_info(onedal=None):
    """Return a dict describing the machine and the library versions.

    CPU model, cores, memory, OS, Python, NumPy, numba (and fastem's thread
    count), SciPy, scikit-learn, fastem (with the git commit when run from a
    checkout), faiss and the BLAS libraries loaded; daal4py when ``onedal`` (a
    :class:`~.onedal.OneDAL`) holds the versions its interpreter reported.
    """
    import numba
    import scipy
    import sklearn
    from threadpoolctl import threadpool_info

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    mem = None
    with contextlib.suppress(ImportError):
        import psutil

        mem = psutil.virtual_memory().total
    blas = []
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            owner = Path(pool.get("filepath", "")).parent.name.removesuffix(".libs")
            blas.append(
                f"{pool.get('internal_api')} {pool.get('version')} "
                f"({pool.get('architecture')}, {pool.get('num_threads')} threads, "
                f"from {owner or 'unknown'})"
            )
    try:
        import fastem

        fastem_version = fastem.__version__
    except Exception:  # noqa: BLE001
        fastem_version = "not importable"
    try:
        import faiss

        faiss_version = faiss.__version__
    except Exception:  # noqa: BLE001
        faiss_version = "not installed"
    commit = None
    with contextlib.suppress(Exception):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parents[2],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": None if mem is None else round(mem / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "fastem threads": numba.get_num_threads(),
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "fastem": fastem_version + (f" (git {commit})" if commit else ""),
        "faiss": faiss_version,
        "blas": "; ".join(blas) or "unknown",
    }
    if onedal is not None and onedal.versions:
        v = onedal.versions
        info["daal4py"] = (
            f"{v['daal4py']} (oneDAL; in {onedal.python}: Python {v['python']}, "
            f"NumPy {v['numpy']})"
        )
    return info
