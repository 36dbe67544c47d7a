"""bench/gpu.py is known to run before it meets a GPU: its --smoke sizes on the CPU print the table
and write the JSON with every trainer, mode and figure a GPU run fills."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("g++") is None, reason="TorchInductor needs a C++ compiler (g++)")]


def test_the_gpu_bench_runs_its_smoke_sizes_on_cpu(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu.py"), "--smoke", "--json", str(tmp_path / "g.json")],
                         capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "| trainer | size | mode | img/s | peak GB | MFU | compile s |" in out.stdout
    result = json.loads((tmp_path / "g.json").read_text())
    assert set(result["trainers"]) == {"pose", "seg", "pose3d"} and result["smoke"] is True
    for name, t in result["trainers"].items():
        assert [r["mode"] for r in t["steps"]] == ["fp32 eager", "bf16 + channels_last",
                                                   "bf16 + channels_last, compiled"], name
        assert all(r["images_per_s"] > 0 for r in t["steps"]) and t["forward_gflops"] > 0
        assert t["steps"][2]["compile_s"] > 0 and t["loop"]["images_per_s"] > 0
        assert 0 <= t["loop"]["data_wait"] <= 1
