"""The study layer's side of checkpoints: which state file a run writes, what a resume must match, and one run at
a time per output directory.

* :func:`method_checkpoint` gives the :class:`~ecodec.decomposition.checkpoint.StateCheckpoint` of one method run
  with ``--output``: it writes ``OUTPUT/checkpoints/<method>_state.npz``; with ``resume`` it first reads the state
  saved under that directory (on the root process, sent to every process) and refuses, before anything is
  solved, a state that is not this run's: another method, another case, other method options, with or without
  the centralized reference when the saved run was the other way, or an iteration beyond ``max_iterations``.
  The stopping rules may differ (that is how a finished run is continued for more iterations).
* The case is identified by :func:`case_fingerprint`, a SHA-256 over what is solved (every agent's class and
  parameters, the coupling resources and their right-hand sides, the time grid, the network's agents and
  edges), not over the workbook's bytes: a workbook saved again by Excel, or given as the Python objects it
  reads to, resumes; any changed number does not.
* The centralized reference of a resumed run is solved again (it is deterministic: the same solver on the same
  model), rather than read from the interrupted run's directory, which a killed run never wrote.
* :func:`output_lock` holds ``--output``'s :class:`~ecodec.output_lock.OutputLock` for the whole study (on the
  root process of an MPI run, a refusal raised on every process).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ecodec.decomposition import REGISTRY, StateCheckpoint
from ecodec.decomposition.checkpoint import load_saved, state_path
from ecodec.errors import EcodecError
from ecodec.files import check_writable
from ecodec.output_lock import OutputLock
from ecodec.runtime import on_root


def case_fingerprint(problem, network) -> str:
    """SHA-256 (hex) over what ``problem`` solves and ``network`` connects (see the module docstring)."""
    digest = hashlib.sha256()
    _feed(digest, [problem.kind, problem.name, getattr(problem, "currency", ""), problem.grid, problem.agents,
                   getattr(problem, "resources", []), list(network.agents), list(network.edges)])
    return digest.hexdigest()


def _feed(digest, value: object) -> None:
    """Add ``value`` to ``digest``, unambiguously: type names and lengths go in with the data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        digest.update(f"<{type(value).__qualname__}>".encode())
        for field in dataclasses.fields(value):
            digest.update(field.name.encode())
            _feed(digest, getattr(value, field.name))
    elif isinstance(value, np.ndarray):
        digest.update(f"<array {value.dtype.str} {value.shape}>".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, dict):
        digest.update(f"<dict {len(value)}>".encode())
        for key in sorted(value, key=str):
            _feed(digest, key)
            _feed(digest, value[key])
    elif isinstance(value, (list, tuple)):
        digest.update(f"<seq {len(value)}>".encode())
        for item in value:
            _feed(digest, item)
    else:
        digest.update(f"<{type(value).__name__} {value!r}>".encode())


def resume_directories(resume: bool | str | Path | None, output: str | Path | None) -> tuple[Path | None,
                                                                                           Path | None]:
    """(where to resume from, where to write) of ``run_case(resume=..., output=...)``: ``resume=True`` resumes
    from ``output``; a directory given resumes from it and writes there too unless ``output`` says otherwise."""
    if resume is None or resume is False:
        return None, Path(output) if output is not None else None
    if resume is True:
        if output is None:
            raise EcodecError("--resume without a directory resumes the run of --output; give --output DIR or "
                              "--resume DIR")
        return Path(output), Path(output)
    return Path(resume), Path(output) if output is not None else Path(resume)


def method_checkpoint(problem, network, method: str, options, stopping, output: Path | None, resume: Path | None,
                      reference: bool) -> StateCheckpoint | None:
    """The state checkpoint of ``method``'s run (see the module docstring); None when nothing is written: no
    ``output``, or a method that keeps no state (refused when it is asked to resume)."""
    spec = REGISTRY[method]
    if resume is not None and not spec.is_distributed:
        raise EcodecError(f"--resume: the {method} solve is a single solve with nothing to resume; resume a "
                          "distributed method")
    if resume is not None and not spec.driver.resumable():
        raise EcodecError(f"--resume: method '{method}' declares no checkpoint state, so it cannot resume "
                          "(docs/decomposition.md lists the methods that can); run it again without --resume")
    if output is None or not spec.is_distributed or not spec.driver.resumable():
        return None
    identity = {"method": method, "case": problem.name, "case_fingerprint": case_fingerprint(problem, network),
                "options": json.loads(json.dumps(options.as_dict(), default=str)), "reference": reference}
    saved = None
    if resume is not None:
        saved = on_root(lambda: _checked(state_path(resume, method), identity, stopping.max_iterations))
    return StateCheckpoint(state_path(output, method), identity, saved)


def _checked(path: Path, identity: dict, max_iterations: int) -> dict:
    """The state at ``path`` when it is one this run can continue; EcodecError saying why not otherwise."""
    if not path.exists() and path.parent.is_dir():
        found = sorted(p.name[: -len("_state.npz")] for p in path.parent.glob("*_state.npz"))
        if found:
            raise EcodecError(f"{path.parent}: holds no checkpoint of method '{identity['method']}' (it holds "
                              f"{', '.join(found)}); resume with the method that was run")
    saved = load_saved(path)
    where = f"the checkpoint {path}"
    if saved.get("method") != identity["method"]:
        raise EcodecError(f"{where} is of method '{saved.get('method')}', not '{identity['method']}'")
    if saved.get("case_fingerprint") != identity["case_fingerprint"]:
        raise EcodecError(f"{where} was written for another case ('{saved.get('case')}', fingerprint "
                          f"{str(saved.get('case_fingerprint'))[:12]}) than this one ('{identity['case']}', "
                          f"{identity['case_fingerprint'][:12]}); resume with the case as it was, unchanged")
    theirs, ours = saved.get("options") or {}, identity["options"]
    changed = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
    if changed:
        said = ", ".join(f"{k} = {theirs.get(k)!r} there, {ours.get(k)!r} here" for k in changed)
        raise EcodecError(f"{where} was made with other {identity['method']} options ({said}); resume with the "
                          "options of the run it continues")
    if bool(saved.get("reference")) != identity["reference"]:
        there, hint = ("with", "without --no-reference") if saved.get("reference") else ("without",
                                                                                        "with --no-reference")
        raise EcodecError(f"{where} was made {there} the centralized reference (its history has cost gap columns "
                          f"only then); resume {hint}")
    done = len(saved["history"])
    if done > max_iterations:
        raise EcodecError(f"{where} is at iteration {done}, beyond the iteration limit {max_iterations}; give "
                          f"--max-iterations {done} or more")
    return saved


@contextmanager
def output_lock(directory: str | Path | None):
    """Hold ``directory``'s lock for the duration (nothing when it is None); see the module docstring."""
    if directory is None:
        yield
        return
    held: list[OutputLock] = []

    def take() -> None:
        check_writable(directory, directory=True, what="the results directory")  # its own messages first
        held.append(OutputLock.acquire(directory))

    on_root(take)
    try:
        yield
    finally:
        for lock in held:
            lock.release()


__all__ = ["case_fingerprint", "method_checkpoint", "output_lock", "resume_directories"]
