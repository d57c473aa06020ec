"""What a checkpoint keeps of a method, and the file it is kept in: enough to continue a run bit for bit.

**The contract** (declared once, on the :class:`~ecodec.decomposition.driver.Driver` and its agent class; see
docs/howto_add_method.md).  A method that can resume names its state instead of writing code for it:

* the driver's ``state_attributes``: the method-wide values that change while it runs (a coordinator's price
  and bracket, step counters, a repair factor, the graph schedule's failed windows), dotted for an attribute of
  an attribute (``certificate.lower``);
* its agent class's ``state_attributes`` (the objects in ``driver.local``): each agent's iterates, duals,
  allocations and averages;
* and, with no declaration, each agent's current decisions and its compiled program's
  :meth:`~ecodec.solvers.matrix.MatrixProblem.snapshot` (costs, bounds, integrality, the basis the next solve
  starts from), plus the driver's warnings and ``abandoned``.

Whatever ``setup()`` computes from the case and the options alone (compiled programs, price scales, step
scales, the graph schedule, which is a function of (seed, k)) is not kept: a resumed run runs ``setup()`` again
and then overwrites the state.  An agent that appended columns or rows to its program after set-up (Tracking-ADMM's
recovery) re-creates them in a ``restore_structure(values)`` method, called before the values are put back.

**Values** a declaration may name: numpy arrays (not of objects), numbers, booleans, None, text, tuples and lists
and dicts of those, and ``numpy.random.Generator`` (its bit generator's state is kept, so the random stream goes
on where it stopped).

**The file** is a NumPy ``.npz`` archive read with ``allow_pickle=False``: the arrays packed by dtype, one entry
``pack<k>`` per dtype holding every array of that dtype one after the other (exact bytes, C order), and one entry
``meta.json`` (UTF-8 JSON) with everything else: the format, the loop's state (the iteration, the message
counters), the history so far, the run's identity (method, case fingerprint, options), every non-array value, and
where each array lies in its pack (entry, offset, shape).  Packing keeps a state of 10,000 agents (some 190,000
small arrays) to a handful of archive entries, so writing and reading it take a time proportional to its bytes
instead of a fixed cost per array.  Files of format 1 (one entry per array) are still read.  Nothing in it is
executed or unpickled, so a file from elsewhere can at worst be refused.  Agents are stored by name, not by rank:
a state written on R ranks resumes on any number of ranks.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "state.npz"
>>> write_state(path, {"iteration": 1}, {"step": 0.5}, {"a": {"x": np.arange(3.0)}, "b": {"x": np.ones(2)}}, [])
>>> read_state(path)["agents"]["b"]["x"]
array([1., 1.])
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ecodec.errors import EcodecError

FORMAT = 2  # 2: arrays packed by dtype
_READABLE = (1, 2)
META = "meta.json"
_ARRAY, _PACKED, _TUPLE, _RNG = "__array__", "__packed__", "__tuple__", "__rng__"


def capture(obj: object, names: tuple[str, ...]) -> dict[str, object]:
    """The values of the (dotted) attributes ``names`` of ``obj``, arrays copied."""
    out = {}
    for name in names:
        value = obj
        for part in name.split("."):
            value = getattr(value, part)
        out[name] = np.array(value) if isinstance(value, np.ndarray) else value
    return out


def apply(obj: object, values: Mapping[str, object]) -> None:
    """Set the (dotted) attributes of ``obj`` to ``values``; a generator gets its saved state back, a tuple that was
    a tuple stays one."""
    for name, value in values.items():
        *path, last = name.split(".")
        owner = obj
        for part in path:
            owner = getattr(owner, part)
        current = getattr(owner, last, None)
        if isinstance(current, np.random.Generator) and isinstance(value, dict):
            current.bit_generator.state = value
            continue
        setattr(owner, last, value)


def write_state(path: Path, meta: dict, shared: dict, agents: dict[str, dict], history: list[dict]) -> None:
    """Write one state file (see the module docstring) to ``path`` (the caller makes the write atomic)."""
    arrays: dict[str, np.ndarray] = {}
    frame = pd.DataFrame(history)
    columns = [str(c) for c in frame.columns]
    for j, column in enumerate(frame.columns):
        values = frame[column].to_numpy()
        if values.dtype == object:
            raise TypeError(f"history column {column!r} holds values that are not numbers")
        arrays[f"history{j}"] = values
    packs = _Packs()
    document = {**meta, "format": FORMAT, "history_columns": columns, "history_rows": len(frame),
                "shared": _encode(shared, "shared", packs), "agents": [name for name in agents],
                "agent_state": [_encode(state, f"agent/{k}", packs) for k, state in enumerate(agents.values())]}
    arrays.update(packs.entries())
    text = json.dumps(document, allow_nan=True).encode()
    arrays[META] = np.frombuffer(text, dtype=np.uint8)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def read_state(path: Path) -> dict:
    """The state file at ``path``: its meta document with ``shared``, ``agents`` ({name: values}) and ``history``
    (a list of records) decoded.  EcodecError (naming the file) when it cannot be read as one."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        document = json.loads(arrays.pop(META).tobytes().decode())
        if not isinstance(document, dict) or document.get("format") not in _READABLE:
            raise ValueError(f"format {document.get('format') if isinstance(document, dict) else None!r}, "
                             f"expected one of {', '.join(map(str, _READABLE))}")
        frame = pd.DataFrame({column: arrays[f"history{j}"]
                              for j, column in enumerate(document["history_columns"])})
        if len(frame) != document["history_rows"]:
            raise ValueError("the history is incomplete")
        document["history"] = frame.to_dict("records")
        document["shared"] = _decode(document["shared"], arrays)
        document["agents"] = {name: _decode(state, arrays)
                              for name, state in zip(document["agents"], document.pop("agent_state"), strict=True)}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, TypeError, IndexError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise EcodecError(f"{path}: not a checkpoint ecodec can resume from ({exc})") from None
    return document


class _Packs:
    """The arrays of a state, gathered per dtype: each array is referred to by (entry, offset, shape)."""

    def __init__(self):
        self._parts: dict[str, list[np.ndarray]] = {}
        self._sizes: dict[str, int] = {}
        self._names: dict[str, str] = {}

    def add(self, value: np.ndarray) -> list:
        dtype = value.dtype.str
        if dtype not in self._names:
            self._names[dtype] = f"pack{len(self._names)}"
            self._parts[dtype], self._sizes[dtype] = [], 0
        offset = self._sizes[dtype]
        self._parts[dtype].append(value.reshape(-1))
        self._sizes[dtype] += value.size
        return [self._names[dtype], offset, list(value.shape)]

    def entries(self) -> dict[str, np.ndarray]:
        return {self._names[dtype]: np.concatenate(parts) if parts else np.empty(0, dtype=np.dtype(dtype))
                for dtype, parts in self._parts.items()}


def _encode(value: object, key: str, packs: _Packs) -> object:
    """``value`` as JSON data; its arrays go to ``packs``, referred to by where they lie (``key``: for errors)."""
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise TypeError(f"state value {key!r} is an array of Python objects; keep numbers in it")
        return {_PACKED: packs.add(value)}
    if isinstance(value, np.random.Generator):
        return {_RNG: value.bit_generator.state}
    if isinstance(value, dict):
        return {str(k): _encode(v, f"{key}/{k}", packs) for k, v in value.items()}
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(v, f"{key}/{i}", packs) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, f"{key}/{i}", packs) for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"state value {key!r} is a {type(value).__name__}, which a checkpoint cannot keep")


def _decode(value: object, arrays: dict[str, np.ndarray]) -> object:
    if isinstance(value, dict):
        if value.keys() == {_PACKED}:
            entry, offset, shape = value[_PACKED]
            size = int(np.prod(shape, dtype=np.int64))
            pack = arrays[entry]
            if offset < 0 or offset + size > pack.size:
                raise ValueError(f"an array reaches past the end of {entry}")
            return pack[offset:offset + size].reshape(shape).copy()
        if value.keys() == {_ARRAY}:  # format 1: an entry of its own
            return np.array(arrays[value[_ARRAY]])
        if value.keys() == {_RNG}:
            return value[_RNG]
        if value.keys() == {_TUPLE}:
            return tuple(_decode(v, arrays) for v in value[_TUPLE])
        return {k: _decode(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    return value


__all__ = ["FORMAT", "apply", "capture", "read_state", "write_state"]
