import json

import numpy as np
import pytest
from PIL import Image

from tests.conftest import SHARED_DATA
from trainers.pose import transforms as T
from trainers.pose.data import PoseDataset, heatmaps, load_coco, load_mpii
from trainers.pose.skeleton import COCO_FLIP_PAIRS, MPII_FLIP_PAIRS
from trainers.pose.synth import synth_coco, synth_mpii

MPII = SHARED_DATA / "mpii_sample"
COCO = SHARED_DATA / "coco_kpt_sample"
needs_mpii = pytest.mark.skipif(not MPII.is_dir(), reason=f"real MPII sample absent ({MPII})")
needs_coco = pytest.mark.skipif(not COCO.is_dir(), reason=f"real COCO sample absent ({COCO})")


def roundtrip_error(ds: PoseDataset, index: int) -> float:
    sample = ds[index]
    person = ds.people[index]
    m = sample["matrix"].numpy()
    crop_pts = (sample["hm_joints"].numpy().astype(np.float64) + 0.5) * ds.stride - 0.5
    back = T.apply(T.invert(m), crop_pts)
    joints, vis = person.joints, person.vis
    if sample["flipped"]:  # left and right swapped places in the sample
        joints, vis = T.flip_joints(joints, vis, ds.flip_pairs)
    vis = vis > 0
    return float(np.abs(back[vis] - joints[vis]).max())


@needs_mpii
@pytest.mark.parametrize("input_size", [[256, 256], [384, 384], [256, 192]])
@pytest.mark.parametrize("train", [False, True])
def test_real_mpii_joints_map_into_the_crop_and_back_within_half_a_pixel(input_size, train):
    with pytest.warns(UserWarning, match="no head boxes"):
        people = load_mpii(MPII, "annot/test_mpii.json", "images")
    raw = json.loads((MPII / "annot" / "test_mpii.json").read_text())
    assert len(people) == 5 and people[0].joints.shape == (16, 2)
    # 1-based MATLAB coordinates become 0-based
    assert people[0].joints[0] == pytest.approx(np.array(raw[0]["joints"][0]) - 1)
    ds = PoseDataset(people, input_size, 2.0, train, MPII_FLIP_PAIRS)
    for i in range(len(ds)):
        sample = ds[i]
        assert sample["image"].shape == (3, *input_size)
        assert roundtrip_error(ds, i) <= 0.5
        inside = sample["weight"] > 0
        assert inside.sum() >= 8  # the people are in their crops


@needs_coco
def test_real_coco_people_from_ground_truth_and_detected_boxes():
    people, path = load_coco(COCO, "annotations/test_coco.json", "images", aspect=192 / 256)
    raw = json.loads((COCO / "annotations" / "test_coco.json").read_text())
    annotated = [a for a in raw["annotations"] if a["num_keypoints"] > 0]
    assert len(people) == len(annotated) == 12
    ds = PoseDataset(people, [256, 192], 2.0, False, COCO_FLIP_PAIRS)
    for i in range(len(ds)):
        assert roundtrip_error(ds, i) <= 0.5
    dets, _ = load_coco(COCO, "annotations/test_coco.json", "images",
                        boxes="annotations/test_coco_det_AP_H_56.json", det_score=0.5, aspect=0.75)
    all_dets = json.loads((COCO / "annotations" / "test_coco_det_AP_H_56.json").read_text())
    assert len(dets) == sum(d["score"] >= 0.5 for d in all_dets) and 0 < len(dets) < len(all_dets)


def test_crop_pixels_line_up_with_mapped_coordinates():
    """A bright dot in the image lands on the crop pixel its coordinates map to, rotated and flipped."""
    image = Image.new("RGB", (300, 240))
    image.putpixel((140, 100), (255, 255, 255))
    for rotation, flip in ((0, False), (25, False), (-40, True)):
        m = T.crop_matrix((150, 120), 0.3, rotation, (96, 96), flip)
        crop = np.asarray(T.warp(image, m, (96, 96)))[..., 0].astype(float)
        ys, xs = np.mgrid[:96, :96]
        centroid = np.array([(crop * xs).sum(), (crop * ys).sum()]) / crop.sum()
        assert np.abs(centroid - T.apply(m, [[140, 100]])[0]).max() < 0.1


def test_heatmap_peaks_at_the_joint_and_weights_out_joints_off_the_map():
    target, weight = heatmaps(np.array([[5.0, 7.0], [100.0, 3.0]]), np.array([1.0, 1.0]), (16, 16), 2.0)
    assert np.unravel_index(target[0].argmax(), target[0].shape) == (7, 5) and target[0].max() == 1.0
    assert weight.tolist() == [1.0, 0.0] and target[1].max() == 0.0


def test_synthetic_mpii_is_in_the_simplebaseline_format_and_loads(tmp_path):
    synth_mpii(tmp_path, n_train=6, n_val=3)
    entries = json.loads((tmp_path / "annot" / "valid.json").read_text())
    assert len(entries) == 3
    assert set(entries[0]) >= {"image", "center", "scale", "joints", "joints_vis", "headbox"}
    assert len(entries[0]["joints"]) == 16 and len(entries[0]["joints_vis"]) == 16
    with Image.open(tmp_path / "images" / entries[0]["image"]) as img:
        assert img.size == (256, 256)
    people = load_mpii(tmp_path, "annot/train.json", "images")
    assert len(people) == 6 and all(p.head_size > 3 for p in people)
    ds = PoseDataset(people, [128, 128], 2.0, True, MPII_FLIP_PAIRS)
    assert all(roundtrip_error(ds, i) <= 0.5 for i in range(6))
    # the same seed writes the same annotations
    synth_mpii(tmp_path / "again", n_train=6, n_val=3)
    assert (tmp_path / "again" / "annot" / "valid.json").read_text() == json.dumps(entries)


def test_synthetic_coco_is_valid_for_pycocotools(tmp_path):
    from pycocotools.coco import COCO as CocoApi

    synth_coco(tmp_path, n_train=4, n_val=4)
    coco = CocoApi(str(tmp_path / "annotations" / "person_keypoints_val.json"))
    assert len(coco.getImgIds()) == 4 and len(coco.getAnnIds()) >= 4
    ann = coco.loadAnns(coco.getAnnIds())[0]
    assert len(ann["keypoints"]) == 51 and ann["num_keypoints"] == sum(v > 0 for v in ann["keypoints"][2::3])


def test_orch_data_synth_writes_a_dataset_and_refuses_a_non_empty_folder(tmp_path):
    from typer.testing import CliRunner

    from orchestrator.cli import app

    out = tmp_path / "synth"
    result = CliRunner().invoke(app, ["data", "synth", "mpii", str(out), "--train", "5", "--val", "2"])
    assert result.exit_code == 0, result.output
    assert len(json.loads((out / "annot" / "train.json").read_text())) == 5
    assert len(list((out / "images").glob("*.jpg"))) == 7
    again = CliRunner().invoke(app, ["data", "synth", "mpii", str(out)])
    assert again.exit_code == 2 and "not empty" in again.output
    coco = CliRunner().invoke(app, ["data", "synth", "coco", str(tmp_path / "c"), "--train", "2", "--val", "1"])
    assert coco.exit_code == 0 and (tmp_path / "c" / "annotations" / "person_keypoints_val.json").is_file()
    bad = CliRunner().invoke(app, ["data", "synth", "kitti", str(tmp_path / "k")])
    assert bad.exit_code == 2 and "registered: cityscapes, coco, mpii" in bad.output


def test_head_boxes_come_from_an_mpii_gt_valid_mat(tmp_path):
    from scipy.io import savemat

    synth_mpii(tmp_path, n_train=1, n_val=3)
    boxes = np.zeros((2, 2, 3))  # MPII's headboxes_src: [[x1, y1], [x2, y2]] x people
    boxes[1, :, :] = [[30.0, 60.0, 90.0], [40.0, 80.0, 120.0]]  # sizes 30x40, 60x80, 90x120
    savemat(tmp_path / "annot" / "gt_valid.mat", {"headboxes_src": boxes})
    people = load_mpii(tmp_path, "annot/valid.json", "images", headboxes="annot/gt_valid.mat")
    assert [p.head_size for p in people] == pytest.approx([0.6 * 50, 0.6 * 100, 0.6 * 150])


def test_synth_mpii_writes_a_gt_valid_mat_the_reference_evaluation_reads(tmp_path):
    """The .mat in MPII's layout, evaluated the way the reference script (and SimpleBaseline's
    evaluate) does it, gives orch's PCKh on the same predictions."""
    from scipy.io import loadmat

    from trainers.pose.metrics import pckh
    from trainers.pose.synth import synth_mpii

    synth_mpii(tmp_path, n_train=1, n_val=30, seed=4)
    gt = loadmat(tmp_path / "annot" / "gt_valid.mat")
    joints_names, missing, pos, boxes = gt["dataset_joints"], gt["jnt_missing"], gt["pos_gt_src"], gt["headboxes_src"]
    assert joints_names.shape == (1, 16) and missing.shape == (16, 30) and pos.shape == (16, 2, 30)
    assert boxes.shape == (2, 2, 30)
    head = np.where(joints_names == "head")[1][0]  # the reference's own lookup
    assert head == 9
    rng = np.random.default_rng(0)
    pred = np.transpose(pos, (2, 0, 1)) + rng.normal(0, 6, size=(30, 16, 2))  # N x 16 x 2, 1-based
    # the reference computation
    visible = 1 - missing
    err = np.linalg.norm(np.transpose(pred, (1, 2, 0)) - pos, axis=1)
    size = np.linalg.norm(boxes[1] - boxes[0], axis=0) * 0.6
    scaled = err / size[None, :]
    hits = (scaled <= 0.5) * visible
    per_joint = 100.0 * hits.sum(axis=1) / visible.sum(axis=1)
    # orch's, from the JSON the loader reads
    people = load_mpii(tmp_path, "annot/valid.json", "images")
    ours = pckh(pred - 1, np.stack([p.joints for p in people]), np.stack([p.vis for p in people]),
                np.array([p.head_size for p in people]), 0.5)
    assert ours["Head"] == pytest.approx(per_joint[head])
    assert ours["Shoulder"] == pytest.approx((per_joint[12] + per_joint[13]) / 2)
    assert ours["Ankle"] == pytest.approx((per_joint[0] + per_joint[5]) / 2)
    # and the loader takes its head boxes from the .mat the same way
    from_mat = load_mpii(tmp_path, "annot/valid.json", "images", headboxes="annot/gt_valid.mat")
    assert [p.head_size for p in from_mat] == pytest.approx([p.head_size for p in people])


def test_synth_coco_writes_detections_a_score_threshold_filters(tmp_path):
    from trainers.pose.synth import DETECTIONS, synth_coco

    synth_coco(tmp_path, n_train=1, n_val=12, seed=3)
    dets = json.loads((tmp_path / DETECTIONS).read_text())
    gt = json.loads((tmp_path / "annotations" / "person_keypoints_val.json").read_text())
    assert {d["image_id"] for d in dets} <= {im["id"] for im in gt["images"]}
    assert all(set(d) == {"image_id", "category_id", "bbox", "score"} and len(d["bbox"]) == 4 for d in dets)
    every, _ = load_coco(tmp_path, "annotations/person_keypoints_val.json", "images", boxes=DETECTIONS)
    confident, _ = load_coco(tmp_path, "annotations/person_keypoints_val.json", "images", boxes=DETECTIONS,
                             det_score=0.7)
    # one detection per person scores at least 0.75; the false alarms score below 0.7
    assert len(every) == len(dets) > len(confident) == len(gt["annotations"])


def _blob_jpeg(path, size=(1200, 960), at=(670.0, 495.0), sigma=6.0):
    ys, xs = np.mgrid[:size[1], :size[0]]
    blob = np.exp(-((xs - at[0]) ** 2 + (ys - at[1]) ** 2) / (2 * sigma**2)) * 255
    Image.fromarray(np.repeat(blob[..., None], 3, axis=2).astype(np.uint8)).save(path, quality=98)


@pytest.mark.parametrize("box, reduced", [(0.45, 1), (1.5, 2), (3.0, 4)])
def test_read_crop_lands_the_blob_where_its_coordinates_map_at_any_decode_scale(tmp_path, box, reduced):
    """The loader decodes big JPEGs at 1/2 or 1/4 size when the crop shrinks them that much; the
    crop must still line up with T.apply to a fraction of a pixel, rotated and flipped."""
    path = tmp_path / "blob.jpg"
    _blob_jpeg(path)
    for rotation, flip in ((0, False), (25, False), (-40, True)):
        m = T.crop_matrix((650, 480), box, rotation, (96, 96), flip)
        shrink = 1 / np.sqrt(abs(np.linalg.det(m[:, :2])))
        assert (4 if shrink >= 4 else 2 if shrink >= 2 else 1) == reduced
        crop = T.read_crop(str(path), m, (96, 96))
        assert crop.dtype == np.uint8 and crop.shape == (96, 96, 3)
        weights = crop[..., 0].astype(float)
        ys, xs = np.mgrid[:96, :96]
        centroid = np.array([(weights * xs).sum(), (weights * ys).sum()]) / weights.sum()
        assert np.abs(centroid - T.apply(m, [[670, 495]])[0]).max() < 0.25, (rotation, flip, centroid)


def test_read_crop_matches_pils_warp(tmp_path):
    path = tmp_path / "blob.jpg"
    _blob_jpeg(path, sigma=40.0)
    m = T.crop_matrix((650, 480), 0.8, 15, (128, 128), False)
    with Image.open(path) as img:
        pil = np.asarray(T.warp(img.convert("RGB"), m, (128, 128))).astype(float)
    assert np.abs(T.read_crop(str(path), m, (128, 128)).astype(float) - pil).mean() < 1.0


def test_separable_heatmaps_equal_the_full_gaussian():
    joints = np.array([[5.3, 7.9], [30.0, 2.5], [-2.0, 20.0]])
    target, _ = heatmaps(joints, np.ones(3), (32, 40), 2.0)
    ys, xs = np.mgrid[:32, :40]
    for j, (x, y) in enumerate(joints):
        full = np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * 2.0**2))
        assert np.abs(target[j] - full).max() < 1e-6


def test_images_travel_as_uint8_and_are_normalised_on_the_device():
    import torch

    from trainers._torch import IMAGENET_MEAN, IMAGENET_STD, as_input

    x = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    assert torch.allclose(as_input(x), (x.float() / 255 - mean) / std, atol=1e-5)
    y = torch.randn(1, 3, 4, 4)
    assert as_input(y) is y
