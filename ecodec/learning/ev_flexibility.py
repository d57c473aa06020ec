"""Which EV charging sessions are flexible, and predicting it from what is known when the vehicle arrives.

A session i plugged in for d_i hours at a charger of P_i kW that must receive E_i kWh has the flexibility ratio

    rho_i = d_i P_i / E_i                    (how many times over its dwell could deliver what it needs)

and is **flexible** when rho_i >= rho_min (``threshold``, default 3) [D].  Reading: charging at full power fills
the need in d_i / rho_i hours, so a flexible session can pause for at least two thirds of its stay, or charge at a
third of its charger power throughout: that is room a coordinated fleet (``ev_dundee_100``) uses to move load out
of expensive or congested hours.  The ratio is unit-free and does not favour long stays of small needs over short
stays of fast chargers the way the laxity d_i - E_i / P_i (hours) would.  On the 500 Dundee sessions rho has
median 3.30 (range 1.42-11.99), so rho_min = 3 also splits them into two classes of similar size (57 % flexible);
rho_min = 2 would call 90 % flexible.

=================  =======================  ======================================================
symbol             column                   meaning
=================  =======================  ======================================================
d_i                departure - arrival      dwell time (h); **not** known at arrival
P_i                ``max_charge_kW``        charger power (kW)
E_i                ``energy_required_kWh``  energy the session needs (kWh)
=================  =======================  ======================================================

Known at arrival (:data:`ARRIVAL_FEATURES`): the hour of arrival (hours after midnight of the arrival day), the
battery size, the energy in it, the energy the driver asks for at departure (a target declared at plug-in, as
smart-charging apps ask for it), hence the energy required, and the charger power.  The departure is not used.

Data: ``data/ev_sessions_dundee_bfelsa_500_2016-04-01.csv`` (Dundee City Council, OGL v3, as filtered by B-FELSA;
see ``data/README.md``).

>>> sessions = read_sessions(DUNDEE_SESSIONS)
>>> [round(float(r), 3) for r in flexibility_ratio(sessions)[:3]], flexible_labels(sessions)[:3].tolist()
([3.933, 2.452, 3.977], [True, False, True])
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ecodec.learning.benchmark import classifiers, compare_classifiers
from ecodec.learning.ramss import LearningInputError

log = logging.getLogger(__name__)

DUNDEE_SESSIONS = Path(__file__).resolve().parents[2] / "data" / "ev_sessions_dundee_bfelsa_500_2016-04-01.csv"
SESSION_COLUMNS = ("ev_id", "arrival", "departure", "battery_kWh", "arrival_soc_kWh", "min_departure_soc_kWh",
                   "max_charge_kW", "energy_required_kWh")
ARRIVAL_FEATURES = ("arrival_hour", "battery_kWh", "arrival_soc_kWh", "min_departure_soc_kWh", "max_charge_kW",
                    "energy_required_kWh")
DEFAULT_THRESHOLD = 3.0


def read_sessions(path: str | Path = DUNDEE_SESSIONS) -> pd.DataFrame:
    """The charging sessions of a CSV with the Dundee columns (:data:`SESSION_COLUMNS`), times parsed; refused
    with a :class:`~ecodec.learning.LearningInputError` naming the column when one is missing or holds a
    departure not after the arrival, a non-positive power or energy required."""
    try:
        sessions = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise LearningInputError(f"sessions file {str(path)!r}: cannot be read as CSV ({exc})") from exc
    missing = [c for c in SESSION_COLUMNS if c not in sessions.columns]
    if missing:
        raise LearningInputError(f"sessions file {Path(path).name!r}: got columns {list(sessions.columns)}; "
                                 f"expected also {missing}")
    for column in ("arrival", "departure"):
        parsed = pd.to_datetime(sessions[column], errors="coerce")
        if parsed.isna().any():
            row = int(np.flatnonzero(parsed.isna())[0])
            raise LearningInputError(f"sessions file {Path(path).name!r}, column '{column}', row {row + 2}: got "
                                     f"{sessions[column].iloc[row]!r}; expected a date and time")
        sessions[column] = parsed
    check_sessions(sessions)
    return sessions


def check_sessions(sessions: pd.DataFrame) -> None:
    """Refuse sessions whose departure is not after the arrival or whose power or energy required is not > 0."""
    rules = (("departure", (sessions["departure"] > sessions["arrival"]).to_numpy(), "a time after the arrival"),
             ("max_charge_kW", (sessions["max_charge_kW"] > 0).to_numpy(), "a power > 0 kW"),
             ("energy_required_kWh", (sessions["energy_required_kWh"] > 0).to_numpy(), "an energy > 0 kWh"))
    for column, ok, expected in rules:
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise LearningInputError(f"session ev_id {sessions['ev_id'].iloc[i]}, column '{column}': got "
                                     f"{sessions[column].iloc[i]!r}; expected {expected}")


def dwell_h(sessions: pd.DataFrame) -> np.ndarray:
    """Hours from arrival to departure, per session."""
    return ((sessions["departure"] - sessions["arrival"]).dt.total_seconds() / 3600.0).to_numpy()


def flexibility_ratio(sessions: pd.DataFrame) -> np.ndarray:
    """rho_i = d_i P_i / E_i per session (module docstring)."""
    return dwell_h(sessions) * sessions["max_charge_kW"].to_numpy(float) / sessions["energy_required_kWh"].to_numpy(
        float)


def flexible_labels(sessions: pd.DataFrame, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """True for the sessions with rho_i >= ``threshold`` (a number > 1: at rho = 1 a session needs its whole
    stay at full power)."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 1:
        raise LearningInputError(f"threshold: got {threshold!r}; expected a number > 1")
    return flexibility_ratio(sessions) >= threshold


def arrival_features(sessions: pd.DataFrame) -> pd.DataFrame:
    """The attributes known at arrival (:data:`ARRIVAL_FEATURES`), one row per session; no departure in them.

    >>> arrival_features(read_sessions()).iloc[0].tolist()
    [14.0, 30.0, 23.16, 28.5, 7.0, 5.34]
    """
    arrival = sessions["arrival"]
    hour = arrival.dt.hour + arrival.dt.minute / 60.0
    features = pd.DataFrame({"arrival_hour": hour.to_numpy(float)}, index=sessions.index)
    for column in ARRIVAL_FEATURES[1:]:
        features[column] = sessions[column].to_numpy(float)
    return features


def flexibility_benchmark(sessions: pd.DataFrame | None = None, threshold: float = DEFAULT_THRESHOLD,
                          n_splits: int = 5, seed: int = 0) -> pd.DataFrame:
    """Cross-validated accuracy and model size (:func:`~ecodec.learning.benchmark.compare_classifiers`) of the
    polynomial classifier and the two baselines predicting :func:`flexible_labels` from
    :func:`arrival_features`, plus a ``majority`` row (always the more common class: the floor to beat)."""
    sessions = read_sessions() if sessions is None else sessions
    labels = flexible_labels(sessions, threshold)
    table = compare_classifiers(arrival_features(sessions).to_numpy(), labels, n_splits, seed)
    share = float(max(labels.mean(), 1 - labels.mean()))
    majority = {"classifier": "majority", "accuracy_mean": share, "accuracy_std": 0.0, "model_size_mean": 0.0,
                "full_size": 0.0, "fit_s_mean": 0.0}
    return pd.concat([table, pd.DataFrame([majority])], ignore_index=True)


def predict_flexible(train: pd.DataFrame, arriving: pd.DataFrame, threshold: float = DEFAULT_THRESHOLD,
                     seed: int = 0, model: object | None = None) -> np.ndarray:
    """Fit ``model`` (default: the seeded polynomial classifier) on the past sessions ``train`` and their labels;
    return, per session of ``arriving``, whether it is predicted flexible (its departure is not read).

    >>> sessions = read_sessions()
    >>> predicted = predict_flexible(sessions.iloc[::2], sessions.iloc[1::2])
    >>> predicted.shape, bool(0.7 < (predicted == flexible_labels(sessions.iloc[1::2])).mean())
    ((250,), True)
    """
    model = model if model is not None else classifiers(seed)["polynomial"]
    if not (hasattr(model, "fit") and hasattr(model, "predict")):
        raise LearningInputError(f"model: got {type(model).__name__}; expected a scikit-learn classifier")
    model.fit(arrival_features(train).to_numpy(), flexible_labels(train, threshold))
    return np.asarray(model.predict(arrival_features(arriving).to_numpy()), dtype=bool)
