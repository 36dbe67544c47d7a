"""Ablation tables from tracked trials. Pure: no mlflow, ray or torch.

    record = read_sweep("msssm_temper")                    # orchestrator.tracking
    table = build_table(record, expand_metrics(["pckh"], ...))
    print(render(table, "md"))
"""

from orchestrator.tables.build import (Cell, Pivot, Row, Table, TableError, build_pivot, build_table,
                                       parse_at)
from orchestrator.tables.groups import Column, UnknownMetric, expand_metrics, metric_mode
from orchestrator.tables.render import FORMATS, cell_text, format_number, render

__all__ = ["Cell", "Column", "FORMATS", "Pivot", "Row", "Table", "TableError", "UnknownMetric",
           "build_pivot", "build_table", "cell_text", "expand_metrics", "format_number",
           "metric_mode", "parse_at", "render"]
