"""Writing files so that they appear whole or not at all, to places checked before any work starts.

Every file ecodec writes (results, reports, templates, checkpoints) goes through :func:`atomic_write`: a failure
or an interruption leaves any earlier file untouched and no partial file behind; a write the system refuses (a
full disk, a read-only folder) is an :class:`OutputError` naming the file, never a traceback.  The temporary file
of a writer that was killed (``.<name>.ecodec-tmp-<pid>-....<suffix>``) is removed by the next write into the same
folder once its process is gone.  :func:`check_writable` is called on every output path before a solve starts, so
an output that cannot be written is refused at once and not after an hour of iterations.
:func:`interrupts_deferred` holds Ctrl-C back while a group of files is written, so an interrupt never leaves a
half-saved set of results.

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
>>> _ = atomic_write(target, lambda tmp: tmp.write_text("hello"))
>>> target.read_text()
'hello'
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from ecodec.errors import EcodecError

log = logging.getLogger(__name__)

_TEMPORARY = ".ecodec-tmp-"  # in a temporary file's name, followed by the writer's process id


class OutputError(EcodecError):
    """An output cannot be written where it was asked for (exit code 2 on the command line)."""


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then move it into place in one step.

    A failure or an interruption leaves any earlier file at ``path`` untouched and no partial file behind; an
    OSError of the system (full disk, permissions, read-only file system) becomes an :class:`OutputError`.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(path.parent)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}{_TEMPORARY}{os.getpid()}-", suffix=path.suffix,
                                        dir=path.parent)
    except OSError as exc:
        raise _output_error(path, exc) from None
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0o022)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; results are meant to be shared like any other file
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno is None:  # not the system refusing a write (an error of the writer itself)
            raise
        raise _output_error(path, exc) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


def check_writable(path: str | Path, *, directory: bool, what: str) -> Path:
    """Refuse, with an :class:`OutputError`, an output ``path`` that cannot be written: a file where a folder is
    needed (``directory``) or the reverse, a parent that is a file, a folder where no file can be created
    (read-only, no permission).  ``what`` names the output in the message ('the results directory').  Nothing is
    left behind: a probe file is created and removed in the nearest existing folder.

    >>> import tempfile, pathlib
    >>> existing = pathlib.Path(tempfile.mkdtemp()) / "results.xlsx"
    >>> _ = existing.write_text("")
    >>> check_writable(existing / "runs", directory=True, what="the results directory")
    Traceback (most recent call last):
    ...
    ecodec.files.OutputError: ...runs: cannot be created: ...results.xlsx is a file, not a folder
    """
    path = Path(path)
    if path.exists():
        if directory and not path.is_dir():
            raise OutputError(f"{path}: is a file; {what} is a folder (give a new or existing folder)")
        if not directory and path.is_dir():
            raise OutputError(f"{path}: is a folder; {what} is a file (give a file name)")
        folder = path if directory else path.parent
    else:
        folder = path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir():
            raise OutputError(f"{path}: cannot be created: {folder} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".write-check{_TEMPORARY}{os.getpid()}-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"{path}: {what} cannot be written: {folder}: {exc.strerror or exc}") from None
    return path


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) back while the block runs; an interrupt that arrived meanwhile is raised as
    KeyboardInterrupt when the block has finished, so a group of files is written whole.  Outside the main thread,
    or where SIGINT is not Python's to handle, the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous) and previous != signal.SIG_DFL:  # ignored (e.g. a background job): nothing to defer
        yield
        return
    received: list[int] = []

    def hold(signum, frame):
        received.append(signum)
        log.warning("interrupt received; it takes effect once the files being written are complete")

    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        if callable(previous) and previous is not signal.default_int_handler:
            previous(signal.SIGINT, None)  # e.g. the MPI ranks' handler that only raises a flag
        else:
            raise KeyboardInterrupt


def _output_error(path: Path, exc: OSError) -> OutputError:
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        reason += "; free some space (any earlier file of that name is kept)"
    return OutputError(f"{path}: cannot be written: {reason}")


def _remove_stale_temporaries(folder: Path) -> None:
    """Remove the temporary files left in ``folder`` by writers that were killed (their process is gone)."""
    for leftover in folder.glob(f".*{_TEMPORARY}*"):
        pid = leftover.name.split(_TEMPORARY, 1)[1].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                leftover.unlink()
                log.info("removed %s, left by a writer that was stopped", leftover)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


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
