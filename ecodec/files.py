"""Writing files so that they appear whole or not at all.

Every file ecodec writes (results, reports, templates, checkpoints) goes through :func:`atomic_write`: a failure
or an interruption leaves any earlier file untouched and no partial file behind.

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
>>> _ = atomic_write(target, lambda tmp: tmp.write_text("hello"))
>>> target.read_text()
'hello'
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then move it into place in one step.

    A failure or an interruption leaves any earlier file at ``path`` untouched and no partial file behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0o022)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; results are meant to be shared like any other file
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


def safe_file_stem(name: str, fallback: str = "case") -> str:
    """``name`` as a file name that stays in the folder it is put in: every character other than letters, digits,
    ``.``, ``-`` and ``_`` becomes ``_`` (path separators included), runs of ``_`` become one, and dots, dashes and
    underscores at either end are dropped (no hidden file, no ``..``); ``fallback`` when nothing is left.

    >>> safe_file_stem("../../../etc/x"), safe_file_stem("/tmp/evil"), safe_file_stem("microgrid_8")
    ('etc_x', 'tmp_evil', 'microgrid_8')
    >>> safe_file_stem("..")
    'case'
    """
    stem = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9._-]", "_", str(name))).strip("._-")
    stem = re.sub(r"\.{2,}", ".", stem)
    return stem or fallback
