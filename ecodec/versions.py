"""Versions of ecodec and the software behind a result, read from the installed packages' metadata; the machine
a result was computed on and the fingerprints of the input files it was computed from.

Reading metadata starts no solver: constructing ``highspy.Highs()`` to ask its version prints HiGHS's banner on
standard output, which broke ``--json``.  Every result records :func:`software_versions` (``info['versions']``)
and :func:`machine_facts` (``info['machine']``) so that a number can be traced to the code and the machine that
made it; the study layer adds :func:`file_hashes` of the case's input files (``info['inputs']``).  The report's
title page prints the three.

>>> versions = software_versions()
>>> sorted(versions)[:3]
['cyipopt', 'ecodec', 'highspy']
>>> package_version("no-such-package-here")
'not installed'
>>> sorted(machine_facts())
['cores', 'cpu', 'host', 'os', 'python']
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import socket
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

#: The distributions whose versions every result records (PyPI names)
PACKAGES = ("ecodec", "highspy", "piqp", "cyipopt", "pyomo", "numpy", "pandas")


@functools.cache
def package_version(distribution: str) -> str:
    """The installed version of ``distribution`` (a PyPI name), or 'not installed'."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def highs_version() -> str:
    """The version of HiGHS ecodec solves with (the highspy package carries it)."""
    return package_version("highspy")


def software_versions() -> dict[str, str]:
    """Python's and each of :data:`PACKAGES`' version."""
    return {"python": platform.python_version(), **{name: package_version(name) for name in PACKAGES}}


@functools.cache
def machine_facts() -> dict[str, object]:
    """The machine this process runs on: host name, CPU model, logical cores, operating system and Python."""
    return {"host": socket.gethostname(), "cpu": _cpu_model(), "cores": os.cpu_count() or 0,
            "os": platform.platform(terse=True), "python": f"{platform.python_implementation()} "
                                                           f"{platform.python_version()}"}


def _cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo; elsewhere what the platform module says)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def file_hashes(paths: Iterable[str | Path]) -> dict[str, str]:
    """SHA-256 (hex) of each file by its name, in the order given; a file that cannot be read gets the reason."""
    out = {}
    for path in map(Path, paths):
        digest = hashlib.sha256()
        try:
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            out[path.name] = digest.hexdigest()
        except OSError as exc:
            out[path.name] = f"not readable ({exc.strerror or exc})"
    return out
