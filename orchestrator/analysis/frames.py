"""pandas DataFrames of a sweep for notebooks, named after Optuna's ``study.trials_dataframe()``::

    import orchestrator
    trials = orchestrator.trials_dataframe("msssm_temper")      # one row per trial
    table = orchestrator.table_dataframe("msssm_temper", metrics=["pckh"])  # what `orch table` prints

Columns follow MLflow's ``search_runs`` DataFrames: ``params.<key>`` and ``metrics.<key>``
(the latest value). Numbers are numbers, not strings.
"""

from __future__ import annotations

from typing import Any, Sequence

__all__ = ["trials_dataframe", "table_dataframe"]


def trials_dataframe(sweep: str | None = None, tracking_uri: str | None = None):
    """One row per trial of the sweep's latest run: name, setting, seed, key, status, run_id,
    message, one column per axis, ``steps`` (the last step of the sweep metric), ``best_step`` and
    ``best`` (its best value), then ``params.*`` and ``metrics.*`` (latest values; ``compute/``
    metrics are the trial's totals)."""
    import pandas as pd

    from orchestrator.protocol import typed_param
    from orchestrator.tables.build import trial_value
    from orchestrator.tracking import read_sweep

    record = read_sweep(sweep, tracking_uri)
    rows = []
    for t in record.trials:
        history = t.history.get(record.metric, ())
        best_step, best = trial_value(t, record.metric, "best", record.metric, record.mode)
        row: dict[str, Any] = {"name": t.name, "setting": t.setting, "seed": t.seed, "key": t.key,
                               "status": str(t.status), "run_id": t.run_id, "message": t.message}
        row.update({axis: t.axes.get(axis) for axis in record.axes})
        row.update({"steps": history[-1][0] if history else None, "best_step": best_step, "best": best})
        row.update({f"params.{k}": typed_param(v) for k, v in sorted(t.params.items())})
        row.update({f"metrics.{k}": v for k, v in sorted(t.metrics.items())})
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.attrs.update(sweep=record.name, metric=record.metric, mode=record.mode, run_id=record.run_id)
    return frame


def table_dataframe(sweep: str | None = None, metrics: Sequence[str] = (), *, at: str = "best",
                    baseline: str | None = None, per_class: bool = False, pivot: tuple[str, str] | None = None,
                    ci: float | None = None, alpha: float = 0.05, tracking_uri: str | None = None):
    """The rows `orch table` prints, as numbers: index ``setting``, the axes, then per metric column
    ``<label>`` (the mean over seeds), ``<label>_std``, ``_n``, ``_failed``, ``_nan``, ``_best``,
    ``_p_value``, ``_diff``, ``_diff_ci_low``, ``_diff_ci_high`` (Welch's t-test and the bootstrap
    interval against the column's best or ``baseline``) and, with ``ci`` (0.95), ``_ci_half``.
    With ``pivot=(row_axis, col_axis)``: the means of the first metric, one row per value of the
    row axis, one column per value of the column axis."""
    import pandas as pd

    from orchestrator.analysis.publish import TableRequest, build
    from orchestrator.tables import Pivot

    request = TableRequest(sweep, tuple(metrics), per_class, pivot, at, False, baseline, "json", "-",
                           tracking_uri, ci=ci, alpha=alpha)
    _, table = build(request)
    if isinstance(table, Pivot):
        frame = pd.DataFrame([[c.mean for c in row] for row in table.cells], index=list(table.row_values),
                             columns=list(table.col_values))
        frame.index.name, frame.columns.name = table.row_axis, table.col_axis
        return frame
    rows = []
    for row in table.rows:
        item: dict[str, Any] = {"setting": row.label, **{a: row.axes.get(a) for a in table.axes}}
        if len(table.objectives) > 1:
            item["pareto"] = row.pareto
        for column, cell in zip(table.columns, row.cells):
            test = cell.test
            item[column.label] = cell.text if cell.text is not None else cell.mean
            low, high = test.ci if test is not None and test.ci is not None else (None, None)
            item.update({f"{column.label}_{k}": v for k, v in (
                ("std", cell.std), ("n", cell.n), ("failed", cell.failed), ("nan", cell.nan),
                ("best", cell.best), ("p_value", test.p_value if test else None),
                ("diff", test.diff if test else None), ("diff_ci_low", low), ("diff_ci_high", high))})
            if ci is not None:
                item[f"{column.label}_ci_half"] = cell.half
        rows.append(item)
    frame = pd.DataFrame(rows).set_index("setting")
    frame.attrs.update(sweep=table.sweep, at=at, metric=table.metric)
    return frame
