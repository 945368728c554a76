"""A small CNN trained on a generator's own images under a fixed budget (needs torch).

The attacker's recipe: make ``images`` labelled captchas with the generator itself, train four
conv blocks and one classifier head per character position for ``minutes`` of CPU time on one
thread, then read fresh captchas. Input: the image in grey, scaled to ``INPUT`` pixels (width x
height), ink high.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
from PIL import Image
from torch import nn

#: Network input (width, height): both sides' images are scaled to it.
INPUT = (96, 32)
BATCH = 64


def to_array(png: bytes) -> np.ndarray:
    """Grey image scaled to INPUT, ink high, in 0..1 (uint8 kept small until batching)."""
    img = Image.open(io.BytesIO(png)).convert("L").resize(INPUT, Image.Resampling.BILINEAR)
    return 255 - np.asarray(img, dtype=np.uint8)


def _make_chunk(args: tuple[Callable[[str], bytes], str, int, int]) -> tuple[np.ndarray, list]:
    make, alphabet, length, count = args
    from flask_captcha_ext.selfhosted.image import random_text

    texts = [random_text(length) for _ in range(count)]
    arrays = np.stack([to_array(make(t)) for t in texts])
    labels = [[alphabet.index(c) for c in t] for t in texts]
    return arrays, labels


def dataset(
    make: Callable[[str], bytes], alphabet: str, length: int, count: int, workers: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` labelled images from ``make`` (a picklable text -> PNG function), made on
    ``workers`` processes."""
    chunk = 500
    jobs = [(make, alphabet, length, min(chunk, count - i)) for i in range(0, count, chunk)]
    with ProcessPoolExecutor(workers) as pool:
        parts = list(pool.map(_make_chunk, jobs))
    x = torch.from_numpy(np.concatenate([p[0] for p in parts]))
    y = torch.tensor([label for p in parts for label in p[1]], dtype=torch.long)
    return x, y


class Net(nn.Module):
    """Four conv blocks (conv, batch norm, ReLU, 2x2 max-pool), then one linear head per
    character position over the flattened features."""

    def __init__(self, classes: int, length: int) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        channels = [1, 16, 32, 48, 64]
        for c_in, c_out in zip(channels, channels[1:]):
            blocks += [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
        self.features = nn.Sequential(*blocks)
        flat = channels[-1] * (INPUT[1] // 16) * (INPUT[0] // 16)
        self.length, self.classes = length, classes
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(flat, length * classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).view(-1, self.length, self.classes)


def _batch(x: torch.Tensor) -> torch.Tensor:
    return x.unsqueeze(1).float().div_(255.0)


def train(
    x: torch.Tensor, y: torch.Tensor, classes: int, minutes: float, seed: int
) -> tuple[Net, dict[str, float]]:
    """Train on (x, y) until ``minutes`` of this process's CPU time are spent (one thread).
    ``seed`` fixes the initial weights and the batch order."""
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    net = Net(classes, y.shape[1])
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    budget = minutes * 60
    start = time.process_time()
    steps = seen = 0
    net.train()
    while time.process_time() - start < budget:
        for idx in torch.randperm(len(x)).split(BATCH):
            lr = 2e-3 * max(0.05, 1 - (time.process_time() - start) / budget)
            for group in opt.param_groups:
                group["lr"] = lr
            out = net(_batch(x[idx]))
            loss = loss_fn(out.reshape(-1, classes), y[idx].reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps, seen = steps + 1, seen + len(idx)
            if time.process_time() - start >= budget:
                break
    net.eval()
    return net, {"steps": steps, "epochs": seen / len(x), "loss": loss.item()}


def read(net: Net, pngs: Sequence[bytes], alphabet: str) -> list[str]:
    """The texts ``net`` reads in ``pngs``."""
    out = []
    with torch.no_grad():
        for start in range(0, len(pngs), 256):
            x = torch.from_numpy(np.stack([to_array(p) for p in pngs[start : start + 256]]))
            best = net(_batch(x)).argmax(-1)
            out += ["".join(alphabet[i] for i in row) for row in best.tolist()]
    return out
