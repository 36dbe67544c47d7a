"""Ablation tables from tracked trials. Pure: no mlflow, ray or torch.

    record = read_sweep("msssm_temper")                    # orchestrator.tracking
    table = build_table(record, expand_metrics(["pckh"], ...))
    print(render(table, "md", Style(label="Arch")))
"""

from orchestrator.tables.build import Cell, Row, Table, TableError, build_table, parse_at
from orchestrator.tables.groups import Column, UnknownMetric, expand_metrics, metric_mode
from orchestrator.tables.pivot import Pivot, build_pivot
from orchestrator.tables.render import FORMATS, render
from orchestrator.tables.stats import Comparison
from orchestrator.tables.text import Style, cell_text, format_number

__all__ = ["Cell", "Column", "Comparison", "FORMATS", "Pivot", "Row", "Style", "Table", "TableError",
           "UnknownMetric", "build_pivot", "build_table", "cell_text", "expand_metrics", "format_number",
           "metric_mode", "parse_at", "render"]
