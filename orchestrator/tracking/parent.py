"""A sweep's parent run: found or created under the sweep's lease, so that one sweep has one
parent run per store and one owner at a time (:mod:`orchestrator.tracking.lease`)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

from orchestrator.protocol import Tag
from orchestrator.util.secrets import mask_text, secret_values
from orchestrator.sweepfile.model import SweepSpec
from orchestrator.tracking.lease import LocalLease, Owner, SweepBusy, TagLease
from orchestrator.tracking.provenance import run_tags
from orchestrator.tracking.store import sqlite_path
from orchestrator.tracking.ui_view import set_ui_view

__all__ = ["OpenedParent", "claim_store", "open_parent"]


@dataclass
class OpenedParent:
    run_id: str
    lease: Any  # LocalLease | TagLease
    resumed: bool  # an existing parent run was reopened
    previous_tags: dict[str, str]  # its tags before this run changed them (code, environment)
    previous_metrics: dict[str, float] = field(default_factory=dict)  # its metrics before this run


def _parents(client, experiment_id: str, sweep: str) -> list:
    return list(client.search_runs(
        [experiment_id], filter_string=f"tags.`{Tag.KIND}` = '{Tag.SWEEP_KIND}' and tags.`{Tag.SWEEP}` = '{sweep}'",
        order_by=["attributes.start_time DESC"], max_results=50))


def _sweep_tags(spec: SweepSpec, git: dict[str, str]) -> dict[str, str]:
    search = spec.search
    extra = {Tag.SEARCH: json.dumps({"method": search.method, "sampler": search.sampler, "seed": search.seed,
                                     "num_samples": search.num_samples,
                                     "space": [d.to_dict() for d in search.space]})} if search is not None else {}
    if spec.multi:
        extra[Tag.OBJECTIVES] = json.dumps([list(o) for o in spec.objectives])
    return {**run_tags(git), **extra, Tag.KIND: Tag.SWEEP_KIND, Tag.SWEEP: spec.name,
            Tag.TRAINER: spec.trainer, Tag.METRIC: spec.metric, Tag.MODE: spec.mode,
            Tag.AXES: json.dumps(list(spec.axes)), Tag.ABBREV: json.dumps(dict(spec.abbrev)), Tag.SEEDS: json.dumps(list(spec.seeds)),
            Tag.TRIALS: str(len(spec.trials)), Tag.NOTE: spec.description}


def _first_of_twins(client, experiment_id: str, spec: SweepSpec, mine: str, lease: TagLease) -> None:
    """Two launchers that found no parent both created one: the older stays, the other goes."""
    active = [r for r in _parents(client, experiment_id, spec.name) if r.info.lifecycle_stage == "active"]
    oldest = min(active, key=lambda r: (r.info.start_time, r.info.run_id), default=None)
    if oldest is not None and oldest.info.run_id != mine:
        client.delete_run(mine)
        other = Owner.parse(oldest.data.tags.get(Tag.OWNER))
        raise SweepBusy(f"sweep {spec.name!r} was launched twice at once against {lease.store}; the other "
                        f"launch ({other.describe() if other else 'run ' + oldest.info.run_id}) runs it. "
                        "Nothing was launched here.")


def claim_store(sweep: str, uri: str) -> LocalLease | None:
    """What can refuse a launch at once, before anything starts and before MLflow is imported: an
    unreachable server; a local store that is not whole (made whole when it can be); the local
    lease of the sweep, held by another launch. Returns that lease, taken (None for a server,
    whose lease is a tag of the parent run)."""
    from orchestrator.tracking._local_store import prepare_sqlite_store
    from orchestrator.tracking.store import check_server

    if uri.startswith(("http://", "https://")):
        check_server(uri)
    db = sqlite_path(uri)
    if db is None:
        return None
    prepare_sqlite_store(db)
    lease = LocalLease(db, sweep, Owner.me())
    lease.acquire()  # before anything is read or written: a second launcher stops here
    return lease


def open_parent(client, experiment_id: str, spec: SweepSpec, uri: str, git: dict[str, str],
                new: bool = False, claimed: LocalLease | None = None) -> OpenedParent:
    """Take the sweep's lease (``claimed``: taken already) and find (or, with ``new`` or none
    found, create) its parent run."""
    from mlflow.entities import RunTag

    owner = claimed.owner if claimed is not None else Owner.me()
    db = sqlite_path(uri)
    lease: Any = claimed
    if db is not None and lease is None:
        lease = LocalLease(db, spec.name, owner)
        lease.acquire()  # before anything is read or written: a second launcher stops here
    found = [] if new else _parents(client, experiment_id, spec.name)[:1]
    tags = _sweep_tags(spec, git)
    metrics: dict[str, float] = {}
    if found:
        run_id, previous, metrics = found[0].info.run_id, dict(found[0].data.tags), dict(found[0].data.metrics)
    else:
        run_id, previous = client.create_run(experiment_id, tags=tags, run_name=spec.name).info.run_id, {}
    if db is None:
        lease = TagLease(client, run_id, spec.name, uri, owner)
        stale = lease.acquire()
        if not found:
            _first_of_twins(client, experiment_id, spec, run_id, lease)
        if stale is not None:
            print(f"notice: took over sweep {spec.name!r} from {stale.describe()}, whose lease had lapsed",
                  file=sys.stderr, flush=True)
    if found:
        client.update_run(run_id, status="RUNNING")
        client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])
    hidden = sorted({v for t in spec.trials for v in secret_values(t.config, spec.secrets)}, key=len, reverse=True)
    client.log_text(run_id, mask_text(spec.source, hidden), "sweep.yaml")
    client.log_text(run_id, json.dumps(spec.to_public_dicts(), indent=1), "trials.json")
    set_ui_view(client, experiment_id, spec, run_id)
    return OpenedParent(run_id, lease, bool(found), previous, metrics)
