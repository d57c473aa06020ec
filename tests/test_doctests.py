"""The examples in ecodec's docstrings run, and print what they say (the public API's documentation is tested)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import signal
from pathlib import Path

import pytest

import ecodec

ROOT = Path(__file__).resolve().parents[1]
SKIPPED = {"ecodec.__main__"}  # importing it runs the command line


def _modules_with_examples() -> list[str]:
    names = ["ecodec"] + [m.name for m in pkgutil.walk_packages(ecodec.__path__, "ecodec.") if m.name not in SKIPPED]
    found = []
    for name in names:
        source = Path(importlib.util.find_spec(name).origin).read_text()
        if ">>> " in source:
            found.append(name)
    return found


MODULES = _modules_with_examples()


def test_the_public_api_has_examples():
    for name in ("ecodec", "ecodec.study", "ecodec.declarations", "ecodec.problem.contract"):
        assert name in MODULES, name


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, monkeypatch):
    monkeypatch.chdir(ROOT)  # examples name the shipped cases by their path in the repository
    module = importlib.import_module(name)
    # an example may start an MPI rank in this process (ecodec.runtime.mpi), which takes Ctrl-C and SIGUSR1 over
    # for good; later tests in this process send Ctrl-C to it and expect Python's own handling
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGUSR1)}
    try:
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed (run python -m " \
                               f"doctest on its file to see them)"
