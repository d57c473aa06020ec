"""Where agents execute: in this process (default) or, in a later runtime, on MPI ranks."""

from ecodec.runtime.inprocess import InProcessRuntime

__all__ = ["InProcessRuntime"]
