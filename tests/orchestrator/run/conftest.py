from __future__ import annotations

def children(client, parent_id: str) -> list:
    exp_ids = [e.experiment_id for e in client.search_experiments()]
    return list(client.search_runs(exp_ids, filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'",
                                   max_results=1000))


def parents(client) -> list:
    exp_ids = [e.experiment_id for e in client.search_experiments()]
    return list(client.search_runs(exp_ids, filter_string="tags.`orch.kind` = 'sweep'"))
