"""The live view shows what a running trial is doing inside an epoch, through the real progress
channel (a board actor on the sweep's Ray instance), and the start-up phases before that."""

from __future__ import annotations

import io
import time

import pytest
from rich.console import Console

from orchestrator.run import run_sweep
from orchestrator.run.board import BoardReader, TrialProgress, start_board
from orchestrator.sweepfile import load_sweep

pytestmark = pytest.mark.slow


def test_positions_reach_the_driver_throttled_and_without_waiting(local_ray):
    board = start_board()
    progress = TrialProgress(board, "trial-1", every_s=0.2)
    reader = BoardReader(board)
    started = time.monotonic()
    for i in range(1, 200_001):  # far more calls than positions: only one per 0.2 s is sent
        progress(i, 200_000, epoch=2, epochs=4, loss=0.5, images_per_s=64.0)
    sent = progress.sent
    assert 1 <= sent <= 2 + (time.monotonic() - started) / 0.2
    seen = {}
    deadline = time.monotonic() + 10
    while "trial-1" not in seen and time.monotonic() < deadline:
        reader.due = 0.0
        seen.update(reader.poll())  # never blocks: the first poll only asks
        time.sleep(0.05)
    position = seen["trial-1"]
    assert position.n == 200_000 and position.figures == {"epoch": 2.0, "epochs": 4.0, "loss": 0.5,
                                                          "images_per_s": 64.0}
    assert position.fraction == pytest.approx((1 + position.i / 200_000) / 4)
    assert position.text().startswith("epoch 2/4  ") and "64.0 img/s" in position.text()


def test_the_live_view_shows_epoch_batch_throughput_and_phases(local_ray, store, write, tmp_path, monkeypatch):
    uri, _ = store
    monkeypatch.chdir(tmp_path)
    path = write("live.yaml", """
        name: live
        trainer: toy
        params: {epochs: 2, sleep: 3}
        """)
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=160, color_system=None)
    outcome = run_sweep(load_sweep(path), tracking_uri=uri, console=console)
    assert outcome.counts == {"finished": 1}
    frames = out.getvalue()
    assert "starting Ray ..." in frames or "launching trials ..." in frames
    assert "epoch 1/2" in frames and "/10" in frames and "26.7 img/s" in frames  # 8 images x 10 batches in 3 s
    assert "ETA" in frames
