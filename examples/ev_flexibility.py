"""Which Dundee EV charging sessions are flexible, predicted at arrival, and the fleet they make.

Learns from 400 past sessions which sessions are flexible (stay at least 3 times longer than full-power charging
needs; see ecodec.learning.ev_flexibility), predicts it for the 100 sessions of cases/ev_dundee_100.xlsx from
what is known when each vehicle plugs in, and builds and solves the coordinated fleet of the predicted-flexible
ones on the price and under the connection limit of that case.
Run: python examples/ev_flexibility.py [--output-dir DIR]
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from ecodec.io.workbook import read_case
from ecodec.learning.ev_flexibility import flexible_labels, read_sessions
from ecodec.study import solve_case
from ecodec.study.ev_flexibility import flexible_fleet_from_history

sessions = read_sessions()
history, arriving = sessions[sessions["ev_id"] % 5 != 0], sessions[sessions["ev_id"] % 5 == 0]
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--output-dir", type=Path, default=None, help="where the fleet workbook goes (a temporary "
                    "folder by default)")
out_dir = parser.parse_args().output_dir or Path(tempfile.mkdtemp())
# the price (DK2 day-ahead, Energinet) and the connection limit of the shipped case of the same 100 sessions
shipped = read_case(Path(__file__).resolve().parents[1] / "cases" / "ev_dundee_100.xlsx")
price_eur_per_kwh = np.asarray(shipped.profiles["price_eur_per_kwh"], dtype=float)
limit_kw = -float(np.min(shipped.profiles["feeder_limit_kw"]))
case, predicted = flexible_fleet_from_history(out_dir / "ev_flexible.xlsx", history, arriving, price_eur_per_kwh,
                                              limit_kw, threshold=3.0, seed=0)
truth = flexible_labels(arriving, threshold=3.0)
print(f"{predicted.sum()} of {len(arriving)} arriving sessions predicted flexible "
      f"({truth.sum()} are); accuracy {np.mean(predicted == truth):.2f}")
run = solve_case(case)
print(f"fleet of {predicted.sum()} vehicles under {limit_kw:g} kW: centralized cost {run.objective:.2f} EUR "
      f"(workbook {out_dir / 'ev_flexible.xlsx'})")
