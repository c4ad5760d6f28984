"""Studies: many runs → one table (sweeps, the collapse map, the drifting lab, the tours).

Every study trains full run directories through `pipeline.run`, evaluates each by the one
seed rule (`studies.runs.final_numbers`) and writes its tables with `studies.table.Table`.
"""

from pushforward.studies.table import Stat, Table, format_value, mean_std

__all__ = ["Stat", "Table", "format_value", "mean_std"]
