"""Versions of ecodec and the software behind a result, read from the installed packages' metadata.

Reading metadata starts no solver: constructing ``highspy.Highs()`` to ask its version prints HiGHS's banner on
standard output, which broke ``--json``.  Every result records :func:`software_versions` so that a number can
be traced to the code that made it.

>>> versions = software_versions()
>>> sorted(versions)[:3]
['cyipopt', 'ecodec', 'highspy']
>>> package_version("no-such-package-here")
'not installed'
"""

from __future__ import annotations

import functools
import platform
from importlib import metadata

#: The distributions whose versions every result records (PyPI names)
PACKAGES = ("ecodec", "highspy", "cyipopt", "pyomo", "numpy", "pandas")


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
