import math

import pytest

from trainers.command.parsers import Harvester, ParserError, check_config, metric_aliases

NOTES = """\
Epoch: [88][0/174]\tTime 0.912s\tLoss 0.00041
| Arch | Head | Shoulder | Elbow | Wrist | Hip | Knee | Ankle | Mean | Mean@0.1 |
|---|---|---|---|---|---|---|---|---|---|
| pose_resnet_50 | 97.101 | 95.941 | 89.826 | 84.412 | 88.749 | 84.524 | 80.850 | 89.344 | 34.237 |
Epoch: [89][0/174]\tTime 0.900s\tLoss 0.00040
| Arch | Head | Shoulder | Elbow | Wrist | Hip | Knee | Ankle | Mean | Mean@0.1 |
|---|---|---|---|---|---|---|---|---|---|
| pose_resnet_50 | nan | nan | nan | nan | nan | nan | nan | nan | nan |
"""


def harvest(specs, text, **kw):
    h = Harvester(specs, **kw)
    return [r for line in text.splitlines() for r in h.feed(line)]


def test_markdown_table_rows_take_the_step_of_the_preceding_epoch_line():
    reports = harvest([{"type": "markdown"}], NOTES)
    assert [s for _, s in reports] == [88, 89]
    first = reports[0][0]
    assert first["val/Head"] == 97.101 and first["val/Mean@0.1"] == 34.237 and len(first) == 9
    assert all(math.isnan(v) for v in reports[1][0].values()) and len(reports[1][0]) == 9


def test_latex_rows_and_a_custom_prefix():
    text = "& Head & Shou & Elb & Wri & Hip & Knee & Ankl & Total\\\\\n& 80.1 & 79.9 & 72.3 & 63.3 & 70.6 & 66.9 & 61.0 & 71.3\\\\\n"
    [(metrics, step)] = harvest([{"type": "latex", "prefix": "posetrack/"}], text)
    assert metrics == {"posetrack/Head": 80.1, "posetrack/Shou": 79.9, "posetrack/Elb": 72.3,
                       "posetrack/Wri": 63.3, "posetrack/Hip": 70.6, "posetrack/Knee": 66.9,
                       "posetrack/Ankl": 61.0, "posetrack/Total": 71.3}
    assert step == 1  # no epoch line: reports are counted


def test_kv_json_and_regex_lines():
    text = ("iter 100: loss=0.5 lr: 1e-3 acc=oops\n"
            '{"step": 7, "val/mIoU": 41.5, "note": "x"}\n'
            "[eval] step 3 top1 71.5%\n")
    reports = harvest([{"type": "kv", "keys": ["loss", "lr"]}, {"type": "json"},
                       {"type": "regex", "pattern": r"step (?P<step>\d+) top1 (?P<top1>[\d.]+)%"}], text)
    assert reports == [({"loss": 0.5, "lr": 1e-3}, 1), ({"val/mIoU": 41.5}, 7), ({"top1": 71.5}, 3)]


def test_a_custom_step_regex():
    reports = harvest([{"type": "kv"}], "== iteration 3000 ==\nmIoU=51.1\n", step_regex=r"iteration (\d+)")
    assert reports == [({"mIoU": 51.1}, 3000)]


@pytest.mark.parametrize("spec,message", [
    ({"type": "yaml"}, "type one of markdown, latex, kv, json, regex"),
    ({"type": "kv", "prefx": "a/"}, "unknown option 'prefx'"),
    ({"type": "regex", "pattern": "(unclosed"}, "not a regular expression"),
    ({"type": "regex", "pattern": r"loss ([\d.]+)"}, "named groups"),
])
def test_bad_parser_specs_are_rejected(spec, message):
    with pytest.raises(ParserError, match=message.replace("(", r"\(")):
        Harvester([spec])
    [(key, problem)] = check_config({"command": ["x"], "metrics": [spec]})
    assert key == "metrics" and message in problem


POSETRACK = """\
& Head & Shou & Elb & Wri & Hip & Knee & Ankl & Total\\\\
& 81.5 & 79.9 & 72.3 & 63.3 & 70.6 & 66.9 & 61.0 & 71.3\\\\
& MOTA & MOTA & MOTA & MOTA & MOTA & MOTA & MOTA & MOTA & MOTP & Prec & Rec\\\\
& Head & Shou & Elb & Wri & Hip & Knee & Ankl & Total & Total & Total & Total\\\\
& 50.1 & 51.2 & 40.3 & 30.4 & 45.5 & 35.6 & 25.7 & 40.8 & 85.9 & 80.1 & 70.2\\\\
"""


def test_an_ap_block_then_a_mota_block_keep_their_own_names():
    reports = harvest([{"type": "latex"}], POSETRACK, aliases=metric_aliases())
    ap, mota = (metrics for metrics, _ in reports)
    assert ap == {"val/Head": 81.5, "val/Shoulder": 79.9, "val/Elbow": 72.3, "val/Wrist": 63.3, "val/Hip": 70.6,
                  "val/Knee": 66.9, "val/Ankle": 61.0, "val/Mean": 71.3}
    assert mota["val/mota/Head"] == 50.1 and mota["val/mota/Total"] == 40.8
    assert mota["val/motp/Total"] == 85.9 and mota["val/prec/Total"] == 80.1 and mota["val/rec/Total"] == 70.2
    assert not set(mota) & set(ap)  # the MOTA row never overwrites the AP values


def test_a_step_regex_needs_a_capture_group():
    [(key, problem)] = check_config({"command": ["x"], "step_regex": r"Epoch \d+"})
    assert key == "step_regex" and "no capture group" in problem
