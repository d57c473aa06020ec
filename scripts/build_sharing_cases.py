"""Rebuild the online energy-sharing cases cases/der_sharing_6.xlsx and cases/der_sharing_20.xlsx.

Run as ``python scripts/build_sharing_cases.py [OUT_DIR]`` (``make cases`` runs it).  Inputs, all in data/ with
provenance and licences in data/README.md:

* ``nrel_sind_ny_6sites_hourly_MW_2006.csv``, ``_meta.csv``, ``_distance_km.csv``: six New York PV plants of NREL's
  Solar Power Data for Integration Studies (synthetic plant outputs from satellite irradiance, 2006, local
  standard time), hourly means;
* ``nyiso_solar_facilities_nyc20_pgscen.csv``: the 20 existing NYISO solar facilities nearest Staten Island
  (centroid 40.58 N, 74.15 W) in the NYISO solar metadata of PGscen (Princeton University, MIT licence): name,
  coordinates, AC capacity.

Both cases cover June 2006, 720 hourly rounds, and stand in for the paper's data (the Staten Island PV facilities
of NYSERDA's DER map, whose generation series are not public): they are labelled "NREL NY 2006 stand-in, not the
paper's data", and only the paper's qualitative claims can be checked on them.

der_sharing_6   one node per NREL site, generation = the site's hourly output (kW), capacity = its nameplate.
der_sharing_20  one node per NYISO facility, generation = the per-unit hourly output (MW / nameplate MW) of the
                NREL site nearest to it, times its AC capacity: the 20 facilities share three distinct shapes
                (NYC and Long Island take the Bronx plant's, the Hudson Valley the plants at 41.05 N or 41.25 N).

In both: demand empty (the balanced share: the round's drawn generation split equally, as the paper does: total
demand = total generation); generation_noise 0.1 (the environment's relative fluctuation around the profile,
docs/online_sharing.md); edges between nodes at most D km apart, D the smallest whole number of km for which the
graph is connected (the paper joins PVs "within two districts"; its exact rule is not known).
"""

from __future__ import annotations

import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from ecodec.io.template import write_case_workbook

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
CASES_DIR = ROOT / "cases"
MONTH = "2006-06"
NOISE = 0.1


def june() -> pd.DataFrame:
    """The hourly MW of the six NREL sites in June 2006 (720 rows)."""
    power = pd.read_csv(DATA / "nrel_sind_ny_6sites_hourly_MW_2006.csv", parse_dates=["time_LST"])
    month = power[power["time_LST"].dt.strftime("%Y-%m") == MONTH].reset_index(drop=True)
    assert len(month) == 720, f"June 2006 has {len(month)} hours in the data, expected 720"
    return month


def km(lat1, lon1, lat2, lon2):
    """Great-circle distance in km (haversine, earth radius 6371 km)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 6371.0 * 2 * np.arcsin(np.sqrt(a))


def threshold_edges(names: list[str], distance: np.ndarray) -> tuple[list[tuple[str, str]], int]:
    """Edges between nodes at most D km apart, D the smallest whole km that connects the graph."""
    for d in range(1, int(np.ceil(distance.max())) + 1):
        edges = [(names[i], names[j]) for i in range(len(names)) for j in range(i + 1, len(names))
                 if distance[i, j] <= d]
        graph = nx.Graph(edges)
        graph.add_nodes_from(names)
        if nx.is_connected(graph):
            return edges, d
    raise AssertionError("no distance threshold connects the graph")


def workbook(name: str, description: str, nodes: list[dict], series: dict[str, np.ndarray],
             edges: list[tuple[str, str]]) -> dict[str, list[dict]]:
    ts = pd.DataFrame({"t": range(1, 721), **{k: np.round(v, 3) for k, v in series.items()}})
    return {
        "meta": [{"name": name, "T": 720, "step_h": 1.0, "currency": "EUR", "start": f"{MONTH}-01 00:00",
                  "description": description}],
        "timeseries": ts.to_dict("records"),
        "prosumers": nodes,
        "network": [{"from": a, "to": b} for a, b in edges],
    }


def six_nodes() -> dict[str, list[dict]]:
    meta = pd.read_csv(DATA / "nrel_sind_ny_6sites_meta.csv")
    distance = pd.read_csv(DATA / "nrel_sind_ny_6sites_distance_km.csv", index_col=0).loc[meta.site_id,
                                                                                          meta.site_id].to_numpy()
    month = june()
    names = [f"pv{i + 1}" for i in range(len(meta))]
    series = {f"{n}_kw": month[site].to_numpy() * 1000.0 for n, site in zip(names, meta.site_id)}
    nodes = [{"name": n, "active": True, "generation_kw": f"{n}_kw", "generation_noise": NOISE,
              "capacity_kw": float(cap) * 1000.0} for n, cap in zip(names, meta.capacity_MW)]
    edges, d = threshold_edges(names, distance)
    sites = "; ".join(f"{n} = {s} ({c:g} MW)" for n, s, c in zip(names, meta.site_id, meta.capacity_MW))
    return workbook("der_sharing_6", f"6 PV prosumers sharing energy round after round, June 2006, hourly. NREL NY "
                    f"2006 stand-in, not the paper's data: NREL SIND New York plants ({sites}). Demand balanced; "
                    f"edges between nodes at most {d} km apart. See data/README.md.", nodes, series, edges)


def twenty_nodes() -> dict[str, list[dict]]:
    sites = pd.read_csv(DATA / "nrel_sind_ny_6sites_meta.csv")
    facilities = pd.read_csv(DATA / "nyiso_solar_facilities_nyc20_pgscen.csv")
    month = june()
    names = [f"pv{i + 1:02d}" for i in range(len(facilities))]
    series, nodes = {}, []
    for n, f in zip(names, facilities.itertuples()):
        nearest = int(np.argmin(km(f.latitude, f.longitude, sites.latitude.to_numpy(), sites.longitude.to_numpy())))
        site = sites.iloc[nearest]
        series[f"{n}_kw"] = month[site.site_id].to_numpy() / float(site.capacity_MW) * f.capacity_MW_ac * 1000.0
        nodes.append({"name": n, "active": True, "generation_kw": f"{n}_kw", "generation_noise": NOISE,
                      "capacity_kw": round(float(f.capacity_MW_ac) * 1000.0, 3)})
    lat, lon = facilities.latitude.to_numpy(), facilities.longitude.to_numpy()
    distance = km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    edges, d = threshold_edges(names, distance)
    return workbook("der_sharing_20", "20 PV prosumers sharing energy round after round, June 2006, hourly. NREL NY "
                    "2006 stand-in, not the paper's data: the 20 existing NYISO solar facilities nearest Staten "
                    "Island (PGscen NYISO metadata), each with the per-unit output of the nearest NREL SIND New York "
                    f"plant times its capacity. Demand balanced; edges between nodes at most {d} km apart. See "
                    "data/README.md.", nodes, series, edges)


def main(out_dir: Path = CASES_DIR) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, tables in (("der_sharing_6", six_nodes()), ("der_sharing_20", twenty_nodes())):
        path = out_dir / f"{name}.xlsx"
        write_case_workbook(path, tables)
        print(f"wrote {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else CASES_DIR)
