"""Clock time of the steps of a case: step t (1..T) starts at ``start + (t - 1) * step_h`` hours.

A case's ``start`` (meta sheet) is local wall-clock time without a zone, as energy data usually comes
(measurement logs, tariffs); ecodec keeps it naive and never shifts it.  Results, reports and exported tables
label each step by the time it *starts*, the convention of pandas resampling and of PyPSA's snapshots.

>>> list(step_starts("2019-04-17 23:30", 0.25, 3).strftime("%Y-%m-%d %H:%M"))
['2019-04-17 23:30', '2019-04-17 23:45', '2019-04-18 00:00']
>>> step_starts("", 1.0, 2) is None
True
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

START_EXAMPLE = "2019-04-17 00:00"


def parse_start(text: object) -> pd.Timestamp | None:
    """The start time written as ``text`` (ISO 8601 date and time, e.g. '2019-04-17 00:00'); None when empty.

    Raises ValueError when ``text`` is not empty and not a date and time.

    >>> parse_start("2016-04-01 12:00:00")
    Timestamp('2016-04-01 12:00:00')
    """
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    try:  # ISO 8601 only: a lenient parser would read '17th of April' as a day of the current year
        stamp = pd.Timestamp(datetime.fromisoformat(str(text).strip()))
    except (ValueError, TypeError, OverflowError):
        raise ValueError(f"{text!r} is not a date and time such as {START_EXAMPLE}") from None
    if stamp.tzinfo is not None:
        raise ValueError(f"{text!r} is not a local date and time without a time zone, such as {START_EXAMPLE}")
    return stamp


def step_starts(start: object, step_h: float, T: int) -> pd.DatetimeIndex | None:
    """When each of the ``T`` steps of ``step_h`` hours starts, from ``start`` (see :func:`parse_start`); None
    when the case has no start time."""
    return step_times(start, step_h, range(1, int(T) + 1))


def step_times(start: object, step_h: float, steps) -> pd.DatetimeIndex | None:
    """When each of ``steps`` (numbers 1..T, in any order, repeated or not) starts; None without a start time.

    >>> list(step_times("2019-04-16 23:00", 0.25, [1, 2, 96]).strftime("%H:%M"))
    ['23:00', '23:15', '22:45']
    """
    first = parse_start(start)
    if first is None:
        return None
    step = pd.Timedelta(milliseconds=round(float(step_h) * 3_600_000))  # 1/3 h is 20 min, not 19:59.999...
    return pd.DatetimeIndex(first + step * (np.asarray(steps, dtype=np.int64) - 1), name="time")
