"""The MLflow UI's view of a sweep, set up so that it opens on the trials, not on a folded parent.

MLflow 3.17's UI opens an experiment in its GenAI view unless the URL says
``workflowType=machine_learning`` (its "Model training" switch); the experiment tag
``mlflow.experimentKind = custom_model_development`` records what kind it is. Its runs table loads
a *shared view* named by the URL's ``viewStateShareKey``: an experiment tag
``mlflow.sharedViewState.<key>`` holding the search filter, the sort and the columns as JSON. orch
writes one per sweep: the latest parent run's children (so they are rows, not folded under the
parent), the swept params, the seed, the status and the sweep metric as columns, best first.
`orch ui SWEEP` prints the URL that opens it.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from orchestrator.protocol import Tag
from orchestrator.tracking.store import to_mlflow_name

__all__ = ["view_key", "view_state", "set_ui_view", "ui_path", "KIND"]

KIND = "custom_model_development"


def view_key(sweep: str) -> str:
    return "orch-" + re.sub(r"[^A-Za-z0-9_-]", "-", sweep)


def view_state(spec, parent_id: str) -> dict:
    """The shared view of a sweep's latest parent run: its children, the columns researchers compare."""
    config_keys = set(spec.trials[0].config) if spec.trials else set()
    columns = [f"params.`{a}`" if a in config_keys else f"tags.`{Tag.axis(a)}`" for a in spec.axes]
    if len(spec.seeds) > 1:
        columns.append("params.`seed`")
    metric = f"metrics.`{to_mlflow_name(spec.metric)}`"
    columns += [metric, f"tags.`{Tag.STATUS}`"]
    return {"searchFilter": f"tags.`{Tag.PARENT}` = '{parent_id}'", "orderByKey": metric,
            "orderByAsc": spec.mode == "min", "selectedColumns": columns}


def set_ui_view(client, experiment_id: str, spec, parent_id: str) -> None:
    """Write the sweep's shared view, and the experiment's kind unless someone chose one."""
    experiment = client.get_experiment(experiment_id)
    if Tag.EXPERIMENT_KIND not in (experiment.tags or {}):
        client.set_experiment_tag(experiment_id, Tag.EXPERIMENT_KIND, KIND)
    client.set_experiment_tag(experiment_id, Tag.SHARED_VIEW_PREFIX + view_key(spec.name),
                              json.dumps(view_state(spec, parent_id)))


def ui_path(experiment_id: str, sweep: str | None) -> str:
    """The part of a UI URL after the host: the experiment's runs in the Model training view,
    through the sweep's shared view when a sweep is named."""
    share = f"&viewStateShareKey={quote(view_key(sweep))}" if sweep else ""
    return f"/#/experiments/{experiment_id}/runs?workflowType=machine_learning{share}"
