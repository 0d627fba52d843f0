"""Run Python in a fresh interpreter that imports the same fastem as this one.

Shared with the asv suite (see the package docstring): there the installed fastem
is the commit under test, and the child must import that one, not the checkout's.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path


def child_env(extra=None):
    """Return ``os.environ`` plus ``extra``, with fastem's folder on PYTHONPATH.

    The folder is the one this interpreter imports fastem from (a checkout run
    through ``benchmarks/compare.py`` need not be installed); nothing is added
    when fastem cannot be found.
    """
    env = dict(os.environ)
    try:
        spec = importlib.util.find_spec("fastem")
    except (ImportError, ValueError):  # a broken or blocked fastem
        spec = None
    if spec is not None and spec.origin is not None:
        root = str(Path(spec.origin).resolve().parents[1])
        paths = (root, env.get("PYTHONPATH"))
        env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env.update(extra or {})
    return env


def run_child(args, env=None, timeout=1800, cwd=None, python=None):
    """Run ``python *args`` and return its last stdout line, parsed as JSON.

    Parameters
    ----------
    args : list of str
        Arguments of the interpreter (``["-c", code]``, ``["-m", module, ...]``).
    env : dict, optional
        Variables added to the environment of :func:`child_env`.
    timeout : float, default=1800
        Seconds before the child is killed.
    cwd : str or path, optional
        The child's working directory. With ``-c`` it comes first on
        ``sys.path``, so a checkout there would shadow ``PYTHONPATH``.
    python : str or path, optional
        The interpreter (default: this one, ``sys.executable``).

    Raises
    ------
    RuntimeError
        When the child exits with a non-zero status (its stderr's end attached).
    """
    proc = subprocess.run(
        [python or sys.executable, *args],
        capture_output=True,
        text=True,
        env=child_env(env),
        timeout=timeout,
        cwd=cwd,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"subprocess failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])
