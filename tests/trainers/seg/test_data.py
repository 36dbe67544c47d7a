"""The Cityscapes layout: what `orch data synth cityscapes` writes, how labels map, augmentation."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from orchestrator.cli import app
from trainers.seg.cityscapes import CLASSES, LABEL_IDS, SplitError, label_lut, list_split
from trainers.seg.data import SegDataset
from trainers.seg.synth import synth_cityscapes


def data_cfg(**kw):
    base = dict(crop=[48, 64], scale=[0.75, 2.0], flip=True, jitter=0.4)
    return SimpleNamespace(**{**base, **kw})


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return synth_cityscapes(tmp_path_factory.mktemp("cs"), n_train=6, n_val=3, seed=0, size=(64, 128))


def test_cli_writes_the_exact_layout(tmp_path):
    out = tmp_path / "cityscapes"
    result = CliRunner().invoke(app, ["data", "synth", "cityscapes", str(out), "--train", "4", "--val", "3"])
    assert result.exit_code == 0, result.output
    images = sorted(p.relative_to(out).as_posix() for p in out.glob("leftImg8bit/*/*/*.png"))
    labels = sorted(p.relative_to(out).as_posix() for p in out.glob("gtFine/*/*/*.png"))
    assert images[0] == "leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png"
    assert len(images) == 7 and len(labels) == 7
    assert {p.split("/")[2] for p in images if "/val/" in p} == {"frankfurt", "lindau", "munster"}
    assert [p.replace("leftImg8bit", "gtFine", 1).replace("_leftImg8bit.png", "_gtFine_labelIds.png")
            for p in images] == labels
    img = Image.open(out / images[0])
    assert img.mode == "RGB" and img.size == (512, 256)
    assert Image.open(out / labels[0]).mode == "L"
    again = CliRunner().invoke(app, ["data", "synth", "cityscapes", str(out)])
    assert again.exit_code == 2 and "not empty" in again.output


def test_same_seed_same_files_and_street_classes(synth, tmp_path):
    other = synth_cityscapes(tmp_path / "again", n_train=6, n_val=3, seed=0, size=(64, 128))
    for path in synth.glob("*/*/*/*.png"):
        assert (other / path.relative_to(synth)).read_bytes() == path.read_bytes()
    lut = label_lut()
    seen = set()
    for path in synth.glob("gtFine/*/*/*_labelIds.png"):
        seen |= set(np.unique(lut[np.asarray(Image.open(path))]).tolist())
    names = {CLASSES[c] for c in seen if c != 255}
    assert {"road", "sidewalk", "building", "sky", "car"} <= names


def test_label_ids_map_to_train_ids_and_train_ids_files_win(tmp_path):
    lut = label_lut()
    assert lut[LABEL_IDS["road"]] == 0 and lut[LABEL_IDS["bicycle"]] == 18 and lut[LABEL_IDS["sky"]] == 10
    assert lut[LABEL_IDS["ego vehicle"]] == 255 and lut[0] == 255 and lut[34] == 255
    root = tmp_path / "cs"
    for kind in ("leftImg8bit", "gtFine"):
        (root / kind / "val" / "zurich").mkdir(parents=True)
    Image.new("RGB", (8, 4), (9, 9, 9)).save(root / "leftImg8bit/val/zurich/zurich_000000_000019_leftImg8bit.png")
    ids = np.array([[7, 8, 11, 1, 26, 33, 0, 23]] * 4, dtype=np.uint8)
    Image.fromarray(ids).save(root / "gtFine/val/zurich/zurich_000000_000019_gtFine_labelIds.png")
    ds = SegDataset(root, "val", data_cfg(), train=False)
    item = ds[0]
    assert item["label"].tolist()[0] == [0, 1, 2, 255, 13, 18, 255, 10]
    assert item["image"].shape == (3, 4, 8) and item["image"].dtype == torch.uint8  # normalised on the device
    train_ids = np.full((4, 8), 5, dtype=np.uint8)
    Image.fromarray(train_ids).save(root / "gtFine/val/zurich/zurich_000000_000019_gtFine_labelTrainIds.png")
    assert SegDataset(root, "val", data_cfg(), train=False)[0]["label"].unique().tolist() == [5]


def test_missing_folders_and_labels_say_what_is_expected(tmp_path):
    with pytest.raises(SplitError, match=r"leftImg8bit/val/<city>/ and gtFine/val/<city>/"):
        list_split(tmp_path, "val")
    (tmp_path / "leftImg8bit/val/bonn").mkdir(parents=True)
    Image.new("RGB", (8, 4)).save(tmp_path / "leftImg8bit/val/bonn/bonn_000000_000019_leftImg8bit.png")
    with pytest.raises(SplitError, match="bonn_000000_000019_gtFine_labelIds.png"):
        list_split(tmp_path, "val")


def test_training_items_are_crops_padded_with_ignore(synth):
    ds = SegDataset(synth, "train", data_cfg(crop=[160, 300], scale=[0.5, 0.5]), train=True)
    item = ds[(0, 123)]
    assert item["image"].shape == (3, 160, 300) and item["label"].shape == (160, 300)
    # the image was scaled to 32x64, so everything beyond is padding: ignore label, mean colour (0)
    assert (item["label"][32:] == 255).all() and (item["label"][:, 64:] == 255).all()
    from trainers._torch import as_input

    assert as_input(item["image"][None])[0, :, 40:, 80:].abs().max() < 0.02
    assert (item["label"][:32, :64] != 255).float().mean() > 0.5


def test_augmentation_is_a_function_of_the_seed_and_leaves_the_caller_rng_alone(synth):
    ds = SegDataset(synth, "train", data_cfg(), train=True)
    torch.manual_seed(5)
    before = torch.rand(3)
    torch.manual_seed(5)
    a, b, c = ds[(1, 7)], ds[(1, 7)], ds[(1, 8)]
    assert torch.equal(torch.rand(3), before)
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["label"], b["label"])
    assert not torch.equal(a["image"], c["image"])
    labels = {int(v) for v in a["label"].unique()}
    assert labels <= set(range(19)) | {255}
