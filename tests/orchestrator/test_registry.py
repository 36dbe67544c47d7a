from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from orchestrator import registry
from orchestrator.sweepfile import Schema
from orchestrator.trainer import Trainer


@pytest.fixture
def fake_entry_points(monkeypatch):
    def install(*eps):
        monkeypatch.setattr(registry, "entry_points", lambda group: [
            EntryPoint(name, value, group) for name, value in eps])
        registry._entry_points.cache_clear()
        registry.get_trainer.cache_clear()

    yield install
    registry._entry_points.cache_clear()
    registry.get_trainer.cache_clear()


def test_builtin_toy_is_registered_and_has_a_schema():
    assert "toy" in registry.available()
    trainer = registry.get_trainer("toy")
    assert isinstance(trainer, Trainer) and trainer.metric == "val/Mean"
    assert Schema(trainer.config).defaults()["t"] == 10.0


def test_unknown_trainer_lists_registered(fake_entry_points):
    fake_entry_points(("toy", "trainers.toy:TRAINER"))
    with pytest.raises(registry.RegistryError, match="unknown trainer 'pose'; registered trainers: toy"):
        registry.get_trainer("pose")


def test_duplicate_names_fail_loudly(fake_entry_points):
    fake_entry_points(("toy", "trainers.toy:TRAINER"), ("toy", "other_pkg:TRAINER"))
    with pytest.raises(registry.RegistryError, match="registered twice"):
        registry.available()


def test_entry_point_must_be_a_trainer(fake_entry_points):
    fake_entry_points(("bad", "trainers.toy:Config"))
    with pytest.raises(registry.RegistryError, match="not an orchestrator.trainer.Trainer"):
        registry.get_trainer("bad")


def test_every_registered_trainer_runs_two_steps():
    """Contract test: each registered trainer trains a couple of steps with report=list.append."""
    for name in registry.available():
        trainer = registry.get_trainer(name)
        schema = Schema(trainer.config)
        smoke = {k: v for k, v in schema.defaults().items()}
        for key in ("epochs", "train.epochs", "train.max_iter"):
            if key in schema.params:
                smoke[key] = 2
        smoke.update(trainer.smoke)
        reports = []
        final = trainer.load_train()(registry.build_config(name, smoke), lambda m, s: reports.append((m, s)))
        assert reports, name
        assert trainer.metric in reports[-1][0] and isinstance(final, dict)


def test_trainers_declare_their_table_groups_and_data_sets():
    groups = registry.metric_groups()
    assert [c.header for c in groups["pckh"].columns] == ["Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee",
                                                           "Ankle", "Mean", "Mean@0.1", "Mean@0.1 (ref)"]
    assert groups["oks"] is groups["coco"] and groups["miou"].per_class_prefix == "val/iou/"
    # the names other tools print for the same quantity
    assert groups["pckh"].column_for("Shou").key == "val/Shoulder"
    assert groups["pckh"].column_for("Total").key == "val/Mean"
    assert groups["pckh"].column_for("ankl").key == "val/Ankle"
    assert groups["miou"].column_for("mIOU").key == "val/mIoU"
    assert groups["pckh"].column_for("MOTA") is None
    assert {name: trainer for name, (trainer, _) in registry.datasets().items()} == {
        "mpii": "pose", "coco": "pose", "cityscapes": "seg", "pose3d": "pose3d"}


def test_two_trainers_declaring_one_data_set_fail_loudly(fake_entry_points):
    fake_entry_points(("pose", "trainers.pose:TRAINER"), ("pose2", "trainers.pose:TRAINER"))
    with pytest.raises(registry.RegistryError, match="'mpii' is declared by trainers 'pose' and 'pose2'"):
        registry.datasets()
