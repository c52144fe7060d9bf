"""The evaluator: a small segmentation network trained on procedural scenes (class map + time of day).

It judges generated images: map adherence (mIoU against the requested map), text adherence (attributes found), and
its pooled features give a Fréchet distance between generated and held-out scenes (a "Fréchet Segmenter Distance",
not Inception FID).

    python -m ldm_train.evaluation.segmenter --out assets/evaluator --max-minutes 12
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from ldm_core.palette import NUM_CLASSES
from ldm_core.spaces import to_model_range

from ..common import Budget, Checkpointer, cool_down, load_checkpoint
from ..data.dataset import HELDOUT_SEED_OFFSET, load_scenes
from ..data.scenes import TIMES

logger = logging.getLogger(__name__)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.GroupNorm(8, cout),
        nn.SiLU(),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.GroupNorm(8, cout),
        nn.SiLU(),
    )


class SceneSegmenter(nn.Module):
    """An encoder-decoder with skips (`depth` poolings, widths w, 2w, 4w, 4w...) and a global-context term at the
    bottleneck (lake vs sea, day vs night need the whole scene); a time-of-day head on the pooled bottleneck."""

    def __init__(self, width: int = 32, num_classes: int = NUM_CLASSES, num_times: int = len(TIMES), depth: int = 4):
        super().__init__()
        self.config = {"width": width, "num_classes": num_classes, "num_times": num_times, "depth": depth}
        widths = [width * min(2**i, 4) for i in range(depth + 1)]
        self.encoders = nn.ModuleList(_block(3 if i == 0 else widths[i - 1], c) for i, c in enumerate(widths))
        self.decoders = nn.ModuleList(_block(widths[i + 1] + widths[i], widths[i]) for i in range(depth))
        self.context = nn.Linear(widths[-1], widths[-1])
        self.head = nn.Conv2d(width, num_classes, 1)
        self.time_head = nn.Linear(widths[-1], num_times)

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """pixels in [-1, 1] -> (class logits (B, K, H, W), time logits (B, 3), pooled features (B, F))."""
        skips, h = [], pixels
        for i, encoder in enumerate(self.encoders):
            h = encoder(h if i == 0 else F.avg_pool2d(h, 2))
            skips.append(h)
        features = h.mean((2, 3))
        h = h + self.context(features)[:, :, None, None]
        for i in reversed(range(len(self.decoders))):
            h = self.decoders[i](torch.cat([F.interpolate(h, scale_factor=2.0), skips[i]], 1))
        return self.head(h), self.time_head(features), features

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.half().contiguous() for k, v in self.state_dict().items()}, folder / "model.safetensors")
        (folder / "config.json").write_text(json.dumps(self.config))

    @classmethod
    def load(cls, folder: Path) -> SceneSegmenter:
        model = cls(**json.loads((folder / "config.json").read_text()))
        model.load_state_dict({k: v.float() for k, v in load_file(folder / "model.safetensors").items()})
        return model.eval()


def degrade(pixels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Blur / down-up-sampling / noise, so the evaluator judges content rather than the sharpness of a decoder."""
    b = len(pixels)
    choice = torch.randint(0, 4, (1,), generator=generator).item()
    if choice == 1:
        factor = int(torch.randint(2, 5, (1,), generator=generator))
        small = F.interpolate(pixels, scale_factor=1 / factor, mode="area")
        pixels = F.interpolate(small, size=pixels.shape[-2:], mode="bilinear", align_corners=False)
    elif choice == 2:
        kernel = torch.tensor([1.0, 2.0, 1.0])
        kernel = (kernel[:, None] * kernel[None, :] / 16).expand(3, 1, 3, 3)
        pixels = F.conv2d(F.pad(pixels, (1, 1, 1, 1), mode="replicate"), kernel, groups=3)
    if torch.rand(1, generator=generator).item() < 0.5:
        pixels = pixels + torch.randn(pixels.shape, generator=generator) * 0.03 * torch.rand(b, 1, 1, 1)
    return pixels.clamp(-1, 1)


def mean_iou(pred: np.ndarray, target: np.ndarray, num_classes: int = NUM_CLASSES) -> float:
    """mIoU over the classes present in either map, accumulated over the whole set."""
    inter = np.bincount(target[pred == target].ravel(), minlength=num_classes)
    pred_count = np.bincount(pred.ravel(), minlength=num_classes)
    target_count = np.bincount(target.ravel(), minlength=num_classes)
    union = pred_count + target_count - inter
    valid = union > 0
    return float((inter[valid] / union[valid]).mean())


@torch.no_grad()
def segment(
    model: SceneSegmenter, images: np.ndarray, batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 (N, H, W, 3) -> (label maps (N, H, W), time ids (N,), features (N, F))."""
    labels, times, feats = [], [], []
    for start in range(0, len(images), batch_size):
        logits, time_logits, features = model(to_model_range(images[start : start + batch_size], channels_last=True))
        labels.append(logits.argmax(1).numpy())
        times.append(time_logits.argmax(1).numpy())
        feats.append(features.numpy())
    return np.concatenate(labels), np.concatenate(times), np.concatenate(feats)


@dataclass
class SegmenterConfig:
    width: int = 16
    depth: int = 4
    num_scenes: int = 8000
    batch_size: int = 12
    lr: float = 2e-3
    max_steps: int = 100_000
    max_minutes: float = 15.0
    data_seed: int = 0
    checkpoint_every: int = 200
    heldout: int = 500
    cooldown: bool = False  # decay the learning rate linearly to 0 over this invocation (see training.common)


def train(cfg: SegmenterConfig, out_dir: Path, run_dir: Path, cache_dir: Path) -> None:
    torch.manual_seed(cfg.data_seed)
    scenes = load_scenes(cache_dir, cfg.num_scenes)
    model = SceneSegmenter(cfg.width, depth=cfg.depth)
    # mIoU weighs every class alike: up-weight the small ones (rocks, houses) by 1/sqrt(pixel frequency)
    freq = np.bincount(scenes.label_maps[:500].ravel(), minlength=NUM_CLASSES) + 1.0
    class_weights = torch.from_numpy((freq.sum() / freq) ** 0.5).float()
    class_weights /= class_weights.mean()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    state = load_checkpoint(run_dir, {"model": model}, optimizer)
    rng = np.random.default_rng([cfg.data_seed, state.step])
    generator = torch.Generator().manual_seed(cfg.data_seed + state.step)
    budget = Budget(cfg.max_steps, cfg.max_minutes)
    checkpointer = Checkpointer(
        run_dir, {"model": model}, optimizer, cfg, "evaluator cross-entropy", cfg.checkpoint_every, budget
    )
    model.train()
    while not budget.done(state.step):
        idx = rng.integers(0, len(scenes), cfg.batch_size)
        pixels = to_model_range(scenes.images[idx], channels_last=True)
        labels = torch.from_numpy(scenes.label_maps[idx].astype(np.int64))
        if rng.random() < 0.5:
            pixels, labels = pixels.flip(-1), labels.flip(-1)
        if cfg.cooldown:
            cool_down(optimizer, cfg.lr, budget)
        logits, time_logits, _ = model(degrade(pixels, generator))
        loss = F.cross_entropy(logits, labels, weight=class_weights) + 0.2 * F.cross_entropy(
            time_logits, torch.from_numpy(scenes.times[idx])
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        state.step += 1
        state.losses.append((state.step, loss.item()))
        if state.step % 50 == 0:
            logger.info("segmenter step %d loss %.4f", state.step, np.mean([v for _, v in state.losses[-50:]]))
        checkpointer.step(state)
    model.eval()
    held = load_scenes(cache_dir, cfg.heldout, HELDOUT_SEED_OFFSET)
    pred, times, _ = segment(model, held.images)
    miou, time_acc = mean_iou(pred, held.label_maps.astype(np.int64)), float((times == held.times).mean())
    logger.info("held-out mIoU %.3f, time-of-day accuracy %.3f", miou, time_acc)
    model.save(out_dir)
    (out_dir / "training.json").write_text(
        json.dumps(
            {"config": asdict(cfg), "steps": state.step, "heldout_miou": miou, "heldout_time_accuracy": time_acc},
            indent=2,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("assets/evaluator"))
    parser.add_argument("--run-dir", type=Path, default=Path("runs/evaluator2"))
    parser.add_argument("--cache", type=Path, default=Path("cache"))
    parser.add_argument("--size", choices=["tiny", "full"], default="full")
    parser.add_argument("--max-minutes", type=float, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--cooldown", action="store_true", help="decay the learning rate to 0 over --max-minutes")
    parser.add_argument("--lr", type=float, default=None, help="learning rate (default 2e-3)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = (
        SegmenterConfig()
        if args.size == "full"
        else SegmenterConfig(width=8, depth=2, num_scenes=64, batch_size=4, max_steps=10, heldout=16)
    )
    if args.max_minutes is not None:
        cfg.max_minutes = args.max_minutes
    cfg.cooldown = args.cooldown
    if args.lr is not None:
        cfg.lr = args.lr
    train(cfg, args.out, args.run_dir, args.cache)


if __name__ == "__main__":
    main()
