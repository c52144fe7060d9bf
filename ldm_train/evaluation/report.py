"""Evaluate the built-in family through the engine the app uses; print a table and write it to docs/evaluation/.

    python -m ldm_train.evaluation.report                      # full run (a few minutes on 2 cores)
    python -m ldm_train.evaluation.report --quick              # fewer samples

The project's bars: evaluator mIoU >= 0.90; autoencoder PSNR >= 26 dB and evaluator mIoU on reconstructions >= 0.88;
map adherence mIoU >= 0.75; text adherence >= 0.80; inpainting PSNR in the mask >= blur-fill + 3 dB; x4 PSNR >=
bicubic on scenes and >= bicubic - 1 dB on held-out photos, with more high-frequency detail than bicubic.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL
from PIL import Image
from scipy import linalg, ndimage

from ldm_core.config import EngineConfig
from ldm_core.engine import Engine
from ldm_core.palette import CLASS_ID, label_map_to_color
from ldm_core.requests import InpaintRequest, SemanticMapRequest, TextToImageRequest, UpscaleRequest
from ldm_core.spaces import to_model_range

from ..data.dataset import HELDOUT_SEED_OFFSET, SceneArrays, load_scenes
from ..data.photos import HELDOUT_PHOTOS, load_photo, random_crops
from ..data.scenes import TIMES
from ..latents import random_masks
from .segmenter import SceneSegmenter, mean_iou, segment

logger = logging.getLogger(__name__)

# Words in a caption -> the evaluator classes that must appear (any of them) for the attribute to count as found.
PROMPT_ATTRIBUTES = {
    "water": (("lake", "sea", "ocean", "river", "stream"), ("water", "sea", "river")),
    "mountain": (("mountain", "mountains", "peaks"), ("mountain",)),
    "trees": (("tree", "trees", "forest"), ("tree",)),
    "house": (("house",), ("house",)),
    "road": (("road",), ("road",)),
    "beach": (("beach",), ("sand",)),
    "field": (("field", "fields"), ("field",)),
    "flowers": (("flowers", "wildflowers", "flower"), ("flower",)),
}
TIME_WORDS = {
    "day": ("sunny", "daylight", "blue", "midday", "clear"),
    "sunset": ("sunset", "dusk", "evening", "golden"),
    "night": ("night", "starry", "moonlight", "dark"),
}
PRESENT_FRACTION = 0.01  # a class counts as present above 1% of the pixels


@dataclass
class Row:
    metric: str
    value: float
    bar: str
    ok: bool | None

    def cells(self) -> list[str]:
        verdict = {True: "met", False: "NOT met", None: "-"}[self.ok]
        return [self.metric, f"{self.value:.3f}", self.bar, verdict]


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    diff = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    mse = diff[mask].mean() if mask is not None else diff.mean()
    return float(10 * np.log10(255.0**2 / max(mse, 1e-10)))


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean, _ = linalg.sqrtm(s1 @ s2, disp=False)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean.real))


def high_frequency(images: np.ndarray) -> float:
    """Mean absolute Laplacian of the luminance: how much fine detail an image set carries."""
    gray = images.astype(np.float64).mean(-1)
    return float(np.mean([np.abs(ndimage.laplace(g)).mean() for g in gray]))


def blur_fill(image: np.ndarray, mask: np.ndarray, iterations: int = 200) -> np.ndarray:
    """Baseline inpainting: repeatedly blur and restore the known pixels (a harmonic fill from the mask's border)."""
    known = ~mask
    filled = image.astype(np.float64).copy()
    filled[mask] = image[known].mean(0)
    for _ in range(iterations):
        blurred = ndimage.uniform_filter(filled, size=(3, 3, 1))
        filled[mask] = blurred[mask]
    return filled.clip(0, 255).astype(np.uint8)


def seam(image: np.ndarray, mask: np.ndarray) -> float:
    """Mean absolute colour step across the mask boundary (one pixel in, one pixel out)."""
    inner = mask & ~ndimage.binary_erosion(mask)
    outer = ndimage.binary_dilation(mask) & ~mask
    if not inner.any() or not outer.any():
        return 0.0
    grad = np.abs(np.diff(image.astype(np.float64), axis=1)).sum(-1)
    band = (inner | outer)[:, 1:] | (inner | outer)[:, :-1]
    return float(grad[band].mean())


def caption_attributes(caption: str) -> tuple[str | None, list[str]]:
    words = set(caption.lower().replace(",", " ").replace(":", " ").split())
    time = next((t for t, keys in TIME_WORDS.items() if words & set(keys)), None)
    return time, [name for name, (keys, _) in PROMPT_ATTRIBUTES.items() if words & set(keys)]


def attribute_score(captions: list[str], label_maps: np.ndarray, time_ids: np.ndarray) -> float:
    """Fraction of the attributes named in each caption (time of day, water, trees...) found in its image."""
    found, asked = 0, 0
    for caption, label_map, time_id in zip(captions, label_maps, time_ids, strict=True):
        want_time, attrs = caption_attributes(caption)
        if want_time is not None:
            asked += 1
            found += TIMES[time_id] == want_time
        fractions = np.bincount(label_map.ravel(), minlength=len(CLASS_ID)) / label_map.size
        for name in attrs:
            asked += 1
            found += any(fractions[CLASS_ID[c]] >= PRESENT_FRACTION for c in PROMPT_ATTRIBUTES[name][1])
    return found / max(asked, 1)


class Evaluation:
    def __init__(self, family: Path, evaluator: Path, n: int, seed: int = 0):
        self.family, self.n, self.seed = family, n, seed
        self.segmenter = SceneSegmenter.load(evaluator)
        self.engine = Engine(EngineConfig(model_root=family, save_outputs=False, offline=True))
        self.heldout: SceneArrays = load_scenes(Path("cache"), max(n, 200), HELDOUT_SEED_OFFSET)
        self.rows: list[Row] = []
        self.grids: dict[str, list[np.ndarray]] = {}
        self.timings: dict[str, list[float]] = {}

    def add(self, metric: str, value: float, bar: str = "", ok: bool | None = None) -> None:
        self.rows.append(Row(metric, value, bar, ok))
        logger.info("%-60s %.3f %s", metric, value, bar)

    def run(self, request, timing: str | None = None) -> np.ndarray:
        start = time.perf_counter()
        result = self.engine.run(request)
        self.timings.setdefault(timing or result.task, []).append(time.perf_counter() - start)
        return np.asarray(result.images[0].convert("RGB"))

    def evaluator_quality(self) -> None:
        pred, times, _ = segment(self.segmenter, self.heldout.images)
        miou = mean_iou(pred, self.heldout.label_maps.astype(np.int64))
        self.add("evaluator: mIoU on held-out scenes", miou, ">= 0.90", miou >= 0.90)
        self.add("evaluator: time-of-day accuracy on held-out scenes", float((times == self.heldout.times).mean()))

    def autoencoder(self) -> None:
        vae = AutoencoderKL.from_pretrained(self.family / "vae", torch_dtype=torch.float32).eval()
        images = self.heldout.images[:200]
        with torch.no_grad():
            pixels = to_model_range(images, channels_last=True)
            recon = torch.cat([vae.decode(vae.encode(p).latent_dist.mean).sample for p in pixels.split(50)])
        recon = ((recon.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
        value = float(np.mean([psnr(a, b) for a, b in zip(images, recon, strict=False)]))
        self.add("autoencoder: PSNR on held-out scenes (dB)", value, ">= 26", value >= 26)
        pred, _, self.recon_features = segment(self.segmenter, recon)
        miou = mean_iou(pred, self.heldout.label_maps[:200].astype(np.int64))
        self.add("autoencoder: evaluator mIoU on reconstructions", miou, ">= 0.88", miou >= 0.88)
        self.grids["autoencoder"] = [np.concatenate([a, b], 0) for a, b in zip(images[:8], recon[:8], strict=False)]

    def semantic(self) -> None:
        maps = self.heldout.label_maps[: self.n]
        generated = np.stack(
            [
                self.run(SemanticMapRequest(color_map=Image.fromarray(label_map_to_color(m)), seed=self.seed + i))
                for i, m in enumerate(maps)
            ]
        )
        pred, _, features = segment(self.segmenter, generated)
        miou = mean_iou(pred, maps.astype(np.int64))
        self.add("semantic map -> image: map adherence mIoU", miou, ">= 0.75", miou >= 0.75)
        self.semantic_features = features
        pairs = zip(maps[:8], generated[:8], strict=True)
        self.grids["semantic"] = [np.concatenate([label_map_to_color(m), g], 0) for m, g in pairs]

    def text(self) -> None:
        captions = self.heldout.captions[: self.n]
        generated = np.stack(
            [self.run(TextToImageRequest(prompt=c, seed=self.seed + i)) for i, c in enumerate(captions)]
        )
        pred, times, features = segment(self.segmenter, generated)
        value = attribute_score(captions, pred, times)
        # Chance level: the same images judged against other images' captions.
        shuffled = attribute_score(captions[1:] + captions[:1], pred, times)
        self.add("text -> image: prompted attributes found", value, ">= 0.80", value >= 0.80)
        self.add("text -> image: same images against shuffled captions (chance level)", shuffled)
        self.text_features = features
        self.grids["text2img"] = list(generated[:8])
        self.grid_captions = captions[:8]

    def frechet(self) -> None:
        _, _, real = segment(self.segmenter, self.heldout.images[: self.n])
        other = load_scenes(Path("cache"), self.n, HELDOUT_SEED_OFFSET + 500_000)
        _, _, real2 = segment(self.segmenter, other.images)
        self.add("Frechet Segmenter Distance: held-out vs other held-out (floor)", frechet_distance(real, real2))
        self.add("Frechet Segmenter Distance: autoencoder reconstructions", frechet_distance(real, self.recon_features))
        self.add("Frechet Segmenter Distance: text -> image samples", frechet_distance(real, self.text_features))
        self.add(
            "Frechet Segmenter Distance: semantic -> image samples", frechet_distance(real, self.semantic_features)
        )

    def inpaint(self) -> None:
        rng = np.random.default_rng(self.seed)
        masks = random_masks(self.n, 128, rng)[:, 0].numpy() > 0.5
        ours, base, seams, seams_gt = [], [], [], []
        grid = []
        for i in range(self.n):
            image, mask, caption = self.heldout.images[i], masks[i], self.heldout.captions[i]
            if mask.all() or not mask.any():
                continue
            out = self.run(
                InpaintRequest(
                    image=Image.fromarray(image),
                    mask=Image.fromarray(mask.astype(np.uint8) * 255),
                    prompt=caption,
                    seed=self.seed + i,
                    mask_blur=0,
                )
            )
            ours.append(psnr(out, image, mask))
            base.append(psnr(blur_fill(image, mask), image, mask))
            seams.append(seam(out, mask))
            seams_gt.append(seam(image, mask))
            if len(grid) < 8:
                shown = image.copy()
                shown[mask] = 255
                grid.append(np.concatenate([shown, out], 0))
        ours_v, base_v = float(np.mean(ours)), float(np.mean(base))
        self.add(
            "inpainting: PSNR inside the mask (dB)",
            ours_v,
            f">= blur-fill + 3 = {base_v + 3:.2f}",
            ours_v >= base_v + 3,
        )
        self.add("inpainting: blur-fill baseline PSNR inside the mask (dB)", base_v)
        self.add("inpainting: boundary seam (mean colour step; ground truth below)", float(np.mean(seams)))
        self.add("inpainting: boundary seam of the ground truth", float(np.mean(seams_gt)))
        self.grids["inpaint"] = grid

    def upscale(self) -> None:
        def run_set(high: np.ndarray, label: str, margin: float) -> None:
            low = [Image.fromarray(h).resize((32, 32), Image.BICUBIC) for h in high]
            sr = np.stack([self.run(UpscaleRequest(image=lo, seed=self.seed + i)) for i, lo in enumerate(low)])
            bicubic = np.stack([np.asarray(lo.resize((128, 128), Image.BICUBIC)) for lo in low])
            ours = float(np.mean([psnr(a, b) for a, b in zip(sr, high, strict=False)]))
            base = float(np.mean([psnr(a, b) for a, b in zip(bicubic, high, strict=False)]))
            self.add(
                f"x4 {label}: PSNR (dB)", ours, f">= bicubic{margin:+.0f} = {base + margin:.2f}", ours >= base + margin
            )
            self.add(f"x4 {label}: bicubic PSNR (dB)", base)
            hf = (high_frequency(sr), high_frequency(bicubic), high_frequency(high))
            self.add(
                f"x4 {label}: high-frequency energy, ours (bicubic {hf[1]:.2f}, truth {hf[2]:.2f})",
                hf[0],
                "> bicubic",
                hf[0] > hf[1],
            )
            self.grids[f"upscale_{label.split()[1]}"] = [
                np.concatenate([b, s, h], 0) for b, s, h in zip(bicubic[:8], sr[:8], high[:8], strict=False)
            ]

        # the speed bar's case: a 128x128 input to 512x512 (a 2x2 mosaic of held-out scenes, bicubic-downsampled)
        mosaic = np.concatenate([np.concatenate(list(self.heldout.images[i : i + 4 : 2]), 1) for i in (0, 1)], 0)
        small = Image.fromarray(mosaic).resize((128, 128), Image.BICUBIC)
        for i in range(3):
            self.run(UpscaleRequest(image=small, seed=self.seed + i), timing="upscale 128->512")
        run_set(self.heldout.images[: self.n], "held-out scenes", 0.0)
        photos = [load_photo(name) for name in HELDOUT_PHOTOS]
        run_set(
            random_crops(photos, max(8, self.n // 2), 128, np.random.default_rng(self.seed)), "held-out photos", -1.0
        )

    def speed(self) -> None:
        """The speed bars, from the median latencies measured above (default settings, this machine)."""
        bars = {"text2img": 1.5, "semantic": 1.5, "inpaint": 1.5, "upscale 128->512": 3.0}
        for task, bar in bars.items():
            if task in self.timings:
                value = float(np.median(self.timings[task]))
                self.add(f"speed: {task}, median seconds per image", value, f"<= {bar}", value <= bar)

    def inception_fid(self) -> str:
        candidates = list(Path.home().glob(".cache/torch/hub/checkpoints/*inception*")) + list(
            Path.home().glob(".cache/torch/hub/checkpoints/weights-inception*")
        )
        if not candidates:
            return (
                "Inception FID: not computed — no Inception weights on disk (torch-fidelity/torchmetrics would "
                "download pt_inception-2015-12-05 into ~/.cache/torch/hub/checkpoints; this machine is offline). "
                "The Frechet Segmenter Distance above uses the project's own evaluator features instead."
            )
        return f"Inception weights found at {candidates[0]}; install torch-fidelity to compute FID."


def write_report(ev: Evaluation, out: Path, fid_note: str, seconds: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    header = ["metric", "value", "bar", "verdict"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in ev.rows]
    latency = {task: float(np.median(v)) for task, v in ev.timings.items()}
    lines += [
        "",
        "Median latency per image through the engine (CPU, default settings; "
        f"{torch.get_num_threads()} torch threads, load average {os.getloadavg()[0]:.1f} at the end): "
        + ", ".join(f"{t} {v:.2f} s" for t, v in latency.items())
        + " (upscale: 32x32 inputs, except 128->512).",
        "",
        fid_note,
    ]
    table = "\n".join(lines)
    print(table)
    family = json.loads((ev.family / "family.json").read_text())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    (out / "README.md").write_text(
        f"# Built-in family: evaluation\n\n{stamp}, {ev.n} samples per task, evaluation took {seconds:.0f} s. "
        "Regenerate with `python -m ldm_train.evaluation.report`.\n\n" + table + "\n\n"
        "Sample grids: " + ", ".join(f"[{k}]({k}.png)" for k in ev.grids) + "\n\n"
        "Training records (from assets/builtin/family.json):\n\n```json\n"
        + json.dumps(family.get("training", {}), indent=1)[:4000]
        + "\n```\n"
    )
    (out / "results.json").write_text(
        json.dumps({"date": stamp, "n": ev.n, "rows": [r.__dict__ for r in ev.rows], "latency_s": latency}, indent=2)
    )
    for name, tiles in ev.grids.items():
        if tiles:
            Image.fromarray(np.concatenate(tiles, 1)).save(out / f"{name}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", type=Path, default=Path("assets/builtin"))
    parser.add_argument("--evaluator", type=Path, default=Path("assets/evaluator"))
    parser.add_argument("--out", type=Path, default=Path("docs/evaluation"))
    parser.add_argument("--n", type=int, default=64, help="samples per task")
    parser.add_argument("--quick", action="store_true", help="16 samples per task")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    start = time.perf_counter()
    ev = Evaluation(args.family, args.evaluator, 16 if args.quick else args.n)
    ev.evaluator_quality()
    ev.autoencoder()
    tasks = ev.engine.task_status()
    for task, stage in (
        ("semantic", ev.semantic),
        ("text2img", ev.text),
        ("inpaint", ev.inpaint),
        ("upscale", ev.upscale),
    ):
        if tasks.get(task) is None:
            stage()
        else:
            logger.warning("%s unavailable: %s", task, tasks[task])
    if hasattr(ev, "text_features") and hasattr(ev, "semantic_features"):
        ev.frechet()
    ev.speed()
    write_report(ev, args.out, ev.inception_fid(), time.perf_counter() - start)


if __name__ == "__main__":
    main()
