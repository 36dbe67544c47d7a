"""MLflow's ``search_runs`` returns pages; this walks all of them."""

from __future__ import annotations

__all__ = ["search_all"]


def search_all(client, experiment_ids: list[str], filter_string: str = "",
               order_by: list[str] | None = None, page_size: int = 1000) -> list:
    """Every run matching ``filter_string`` in ``experiment_ids``, in ``order_by`` order."""
    if not experiment_ids:
        return []
    runs: list = []
    token = None
    while True:
        page = client.search_runs(experiment_ids, filter_string=filter_string, order_by=order_by,
                                  max_results=page_size, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs
