"""One run at a time per output directory: a lock file that a second run finds held and refuses.

Two runs writing into one ``--output`` would interleave their checkpoints and the last to save would silently
replace the other's results.  :class:`OutputLock` takes ``DIR/.ecodec-run.lock`` with ``fcntl.flock`` (exclusive,
non-blocking) and writes its process id and host into it for the refusal's message.  The kernel releases a
flock when its process ends however it ends, so the lock of a killed run is never stale: the next run simply
takes it (the pid left in the file is only read to name the holder while it is held).  On release the file is
removed while still locked, and a run that finds, once it holds the lock, that the path now names another file
(it raced with a release) starts again, so two runs never hold it at once.  A directory the lock created and
that is still empty on release is removed too: a refused or failed run leaves nothing behind.

``flock`` needs a local or lock-aware file system; on one without (some network file systems) taking it fails
and the run says so rather than running unprotected.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from pathlib import Path

from ecodec.errors import EcodecError

LOCK_NAME = ".ecodec-run.lock"


class OutputLock:
    """The held lock of one output directory; :meth:`acquire` takes it (or refuses), :meth:`release` gives it
    back."""

    def __init__(self, directory: Path, fd: int, created: bool):
        self.directory = directory
        self.path = directory / LOCK_NAME
        self._fd = fd
        self._created = created

    @classmethod
    def acquire(cls, directory: str | Path) -> OutputLock:
        """Hold ``directory``'s lock; EcodecError (one line) when another live run holds it or the directory
        cannot be used."""
        directory = Path(directory)
        created = not directory.exists()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            while True:
                fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise EcodecError(f"{directory}: another ecodec run is writing into this directory ({holder}); "
                                      "wait for it to end or give another --output") from None
                except OSError as exc:
                    os.close(fd)
                    raise EcodecError(f"{directory}: cannot lock this directory for the run ({exc.strerror})") \
                        from None
                try:
                    same = os.stat(directory / LOCK_NAME).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    same = False
                if same:
                    break
                os.close(fd)  # the holder released (and removed) the file between our open and our lock
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        except (FileExistsError, NotADirectoryError):
            raise EcodecError(f"{directory}: is a file, not a directory; give a directory for the results") from None
        except PermissionError:
            raise EcodecError(f"{directory}: not writable; give a directory you can write into") from None
        except OSError as exc:
            raise EcodecError(f"{directory}: cannot be used for the results ({exc.strerror or exc})") from None
        return cls(directory, fd, created)

    def release(self) -> None:
        """Remove the lock file and give the lock back (and remove the directory if it made it and it is empty)."""
        if self._fd < 0:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = -1
        if self._created:
            with contextlib.suppress(OSError):
                self.directory.rmdir()  # only when empty


def _read_holder(fd: int) -> str:
    """'process PID on HOST' from a held lock file, or a plain 'another process' when it says nothing yet."""
    try:
        text = os.pread(fd, 200, 0).decode(errors="replace").split()
    except OSError:
        text = []
    if len(text) >= 2 and text[0].isdigit():
        return f"process {text[0]} on {text[1]}"
    return "another process"


__all__ = ["LOCK_NAME", "OutputLock"]
