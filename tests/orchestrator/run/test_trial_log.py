"""trial.log keeps one stream in the order things were printed, stderr lines marked."""

from __future__ import annotations

import io

from orchestrator.run._capture import Log, Tee


def test_stdout_and_stderr_interleave_in_order_with_marks():
    log = Log()
    out, err = io.StringIO(), io.StringIO()
    tee_out, tee_err = Tee(out, log), Tee(err, log, "[stderr] ")
    tee_out.write("Epoch: [0][0/10]\n")
    tee_err.write("warning: slow ")
    tee_err.write("loader\nsecond line\n")
    tee_out.write("| Arch | Mean |\n")
    tee_err.write("Traceback (most recent call last):\n")
    assert log.text() == ("Epoch: [0][0/10]\n[stderr] warning: slow loader\n[stderr] second line\n"
                          "| Arch | Mean |\n[stderr] Traceback (most recent call last):\n")
    assert err.getvalue() == "warning: slow loader\nsecond line\nTraceback (most recent call last):\n"
    assert out.getvalue() == "Epoch: [0][0/10]\n| Arch | Mean |\n"
