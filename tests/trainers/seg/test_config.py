"""What the seg schema and its check hook refuse before anything launches, and where they say it is."""

from typer.testing import CliRunner

from orchestrator.cli import app


def test_bad_seg_settings_are_reported_with_file_line_and_key(write):
    path = write("bad.yaml", """
        name: bad
        trainer: seg
        params:
          data: {crop: [512, 512, 3], scale: [2.0, 0.5]}
          optim: {warmup_iters: 5000}
        grid:
          model.sp_channels: [[64, 64], [64, 64, 128]]
          eval.modes: [[ss], [msflip]]
    """)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    out = " ".join(result.output.split())
    assert f"{path}:4: data.crop: must be >= 8, got 3" in out
    assert f"{path}:4: data.scale: min is above max: [2.0, 0.5]; write [min, max]" in out
    assert f"{path}:5: optim.warmup_iters: 5000 is not below train.max_iter (80000)" not in out  # 5000 < 80000
    assert "model.sp_channels: expected 3 values, three widths" in out
    assert "eval.modes" in out and "'ms_flip'" in out and "msflip" in out
    assert "nothing was launched" in out


def test_warmup_longer_than_training_and_set_overrides_point_at_set(write):
    path = write("short.yaml", """
        name: short
        trainer: seg
        params:
          train: {max_iter: 300}
    """)
    result = CliRunner().invoke(app, ["validate", str(path), "--set", "data.crop=[1024]"])
    out = " ".join(result.output.split())
    assert result.exit_code == 2
    assert "optim.warmup_iters: 1000 is not below train.max_iter (300)" in out
    assert "--set: data.crop: expected 2 values, [H, W], e.g. [1024, 1024]; got [1024]" in out


def test_orch_trainers_seg_shows_help_text_with_brackets_verbatim():
    result = CliRunner().invoke(app, ["trainers", "seg"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    assert "random scale range [min, max]" in result.output and "eval.final_modes" in result.output
