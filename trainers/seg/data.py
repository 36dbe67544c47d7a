"""Cityscapes-format data: labelIds mapped to the 19 train ids, random scale, crop padded with
the ignore label, flip, colour jitter on the crop; images leave as uint8 (normalised on the device)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from trainers._cache import cached_dataset
from trainers.seg.cityscapes import IGNORE, label_lut, list_split
from trainers.seg.synth import synth_cityscapes

__all__ = ["SegDataset", "dataset_root", "MEAN", "STD"]

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
SYNTH_VERSION = 1  # bump when the renderer changes, so caches are rebuilt
_LUT = torch.from_numpy(label_lut())
_MEAN_U8 = torch.tensor([round(255 * m) for m in MEAN], dtype=torch.uint8)[:, None, None]  # 0 once normalised


def dataset_root(cfg_data) -> Path:
    """The dataset folder: data.root, or the synthetic set (generated once, cached)."""
    d = cfg_data
    if d.root == "synthetic":
        h, w = d.synth_size
        name = f"cityscapes-v{SYNTH_VERSION}-{d.synth_train}-{d.synth_val}-{h}x{w}-s0"
        return cached_dataset(name, lambda tmp: synth_cityscapes(tmp, d.synth_train, d.synth_val, 0, (h, w)))
    if not Path(d.root).is_dir():
        raise FileNotFoundError(f"data.root: {d.root} is not a folder (cwd {os.getcwd()}); point it at "
                                "a Cityscapes folder (leftImg8bit/, gtFine/), or use 'synthetic'")
    return Path(d.root)


class SegDataset(torch.utils.data.Dataset):
    """Training items: a normalised crop and its train-id label (int64, 255 = ignore).
    Evaluation items: the whole normalised image and its whole label."""

    def __init__(self, root: str | Path, split: str, cfg_data, train: bool, limit: int | None = None):
        self.items = list_split(root, split)[:limit]
        self.train = train
        self.crop = tuple(cfg_data.crop)
        self.scale = tuple(cfg_data.scale)
        self.flip = cfg_data.flip
        j = cfg_data.jitter
        self.jitter = v2.ColorJitter(brightness=j, contrast=j, saturation=j) if train and j > 0 else None

    def __len__(self) -> int:
        return len(self.items)

    def load(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(uint8 image [3, H, W], int64 train-id label [H, W])."""
        image_path, label_path, train_ids = self.items[index]
        image = torch.from_numpy(np.asarray(Image.open(image_path).convert("RGB")).copy()).permute(2, 0, 1)
        raw = torch.from_numpy(np.asarray(Image.open(label_path)).copy())
        if raw.ndim == 3:  # an RGB-saved label: every channel holds the id
            raw = raw[..., 0]
        label = raw.to(torch.uint8) if train_ids else _LUT[raw.long()]
        if label.shape != image.shape[1:]:
            raise ValueError(f"{label_path} is {tuple(label.shape)} but {image_path} is {tuple(image.shape[1:])}")
        return image, label.long()

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        """``dataset[i]``, or ``dataset[(i, seed)]`` for an augmentation drawn from ``seed``."""
        index, seed = key if isinstance(key, tuple) else (key, None)
        image, label = self.load(index)
        if self.train:
            with torch.random.fork_rng(devices=[]):  # the caller's random state is left as it was
                if seed is not None:
                    torch.manual_seed(seed)
                image, label = self._augment(image, label)
        # uint8 until the device (trainers._torch.as_input normalises there): a quarter of the bytes
        return {"image": image.contiguous(), "label": label, "index": index}

    def _augment(self, image: torch.Tensor, label: torch.Tensor):
        lo, hi = self.scale
        s = lo + (hi - lo) * float(torch.rand(()))
        h, w = image.shape[1:]
        size = [max(1, round(h * s)), max(1, round(w * s))]
        image = TF.resize(image, size, antialias=True)
        label = TF.resize(label[None], size, interpolation=v2.InterpolationMode.NEAREST)[0]
        ch, cw = self.crop
        top = int(torch.randint(0, max(size[0], ch) - ch + 1, ()))  # over the image padded to the crop
        left = int(torch.randint(0, max(size[1], cw) - cw + 1, ()))
        image, label = image[:, top: top + ch, left: left + cw], label[top: top + ch, left: left + cw]
        if self.jitter is not None:  # on the crop's pixels, not the whole scaled image: 15x less work
            image = self.jitter(image)
        pad_h, pad_w = ch - image.shape[1], cw - image.shape[2]
        if pad_h or pad_w:  # image pads with the mean colour (0 after normalising), label with ignore
            canvas = _MEAN_U8.expand(3, ch, cw).clone()
            canvas[:, : image.shape[1], : image.shape[2]] = image
            image = canvas
            label = torch.nn.functional.pad(label, (0, pad_w, 0, pad_h), value=IGNORE)
        if self.flip and float(torch.rand(())) < 0.5:
            image, label = image.flip(-1), label.flip(-1)
        return image.contiguous(), label.contiguous()
