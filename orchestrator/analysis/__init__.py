"""The read flow after the store: plain records (``records``) that the tracking reader fills, and
what is made of them besides tables (:mod:`orchestrator.tables`): grid status, run diffs,
learning-curve plots, search summaries, the HTML report, pandas frames, and ``publish``, the glue
``orch table`` and ``orch plot`` call."""
