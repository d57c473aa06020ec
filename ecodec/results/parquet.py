"""The tables of a RunResult as Parquet files, for other programs (pandas, polars, DuckDB, Spark, R's arrow).

One file per table, ``<table>.parquet`` (dispatch, coupling, agent_costs, history, contributions), holding the same
columns and float64 values as the CSV table of :func:`ecodec.results.save_run`, with, when the case has a start
time, a ``time`` column right after ``t``: a Parquet timestamp without time zone (the case's local time), so
``pd.read_parquet`` gives a ``datetime64`` column.

Units are Parquet field metadata, where a column has them: ``unit`` (``b"EUR"`` on ``agent_costs.cost``) for a
column with one unit, ``unit_column`` (``b"unit"`` on ``dispatch.value``, ``b"price_unit"`` on ``coupling.price``)
for a column whose unit changes from row to row and stands in that other column of the same row
(:func:`ecodec.results.tables.column_units`).  The file's schema metadata ``ecodec`` holds, as JSON, the case,
method, status, currency, step_h and start of the run and the table's name.

>>> import pyarrow.parquet as pq, tempfile, pathlib
>>> from ecodec.study import solve_case
>>> run = solve_case("cases/household_3.xlsx")
>>> path = write_parquet_table(run, "agent_costs", pathlib.Path(tempfile.mkdtemp()) / "agent_costs.parquet")
>>> pq.read_schema(path).field("cost").metadata
{b'unit': b'EUR'}
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ecodec.files import atomic_write
from ecodec.results.tables import column_units, with_time


def write_parquet_table(result, name: str, path: str | Path) -> Path:
    """Write table ``name`` of ``result`` (with its time column and units) to the Parquet file ``path``."""
    frame = with_time(result, getattr(result, name))
    table = pa.Table.from_pandas(frame, preserve_index=False)
    units = column_units(result, name, frame)
    fields = []
    for field in table.schema:
        unit, where = units.get(field.name, ("", ""))
        metadata = {"unit": unit} if unit else {"unit_column": where} if where else None
        fields.append(field.with_metadata(metadata) if metadata else field)
    about = {"case": result.case_name, "method": result.method, "status": result.status,
             "currency": result.currency, "step_h": result.step_h, "start": result.start, "table": name}
    schema = pa.schema(fields, metadata={**(table.schema.metadata or {}), b"ecodec": json.dumps(about).encode()})
    table = table.cast(schema)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    data = buffer.getvalue()
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))
