"""Evaluate the built-in family through the engine the app uses; print a table and write it to docs/evaluation/.

    python -m ldm_train.evaluation.report                      # the committed table: --n 128 --seed 0
    python -m ldm_train.evaluation.report --tasks text2img --family runs/candidate --out runs/eval_candidate

Every number comes with a 95% bootstrap interval over its samples; a bar's verdict is "met" or "NOT met" only when the
whole interval (of the difference, for a bar against a baseline) lies on one side of it. The held-out scenes are
rendered from fixed seeds by the current generator (caches are keyed by its version) and handed out read-only.

Bars: evaluator mIoU >= 0.90; autoencoder PSNR >= 26 dB and evaluator mIoU on reconstructions >= 0.85; map adherence
mIoU >= 0.75; text: attributes found >= 0.80, time of day >= 0.85, each named class >= 0.70; inpainting: evaluator mIoU
in the mask >= 0.60, PSNR in the mask >= blur-fill, high-frequency energy in the mask >= half the truth's, an object
the prompt names for a box on the ground found in it >= 0.50; x4 PSNR >=
bicubic on scenes and >= bicubic - 1 dB on held-out photos, with more high-frequency detail than bicubic.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL
from PIL import Image

from ldm_core.config import EngineConfig
from ldm_core.engine import Engine
from ldm_core.palette import CLASS_ID, label_map_to_color
from ldm_core.requests import InpaintRequest, SemanticMapRequest, TextToImageRequest, UpscaleRequest
from ldm_core.spaces import to_model_range

from ..data.dataset import HELDOUT_SEED_OFFSET, SceneArrays, load_scenes
from ..data.photos import HELDOUT_PHOTOS, load_photo, random_crops
from ..latents import random_masks
from .metrics import (
    PROMPT_ATTRIBUTES,
    attribute_score,  # noqa: F401  (re-exported: the metrics' old home)
    attribute_table,
    blur_fill,
    bootstrap,
    caption_attributes,  # noqa: F401
    found_fraction,
    frechet_distance,
    high_frequency_each,
    iou_counts,
    miou_from_counts,
    psnr,
    seam,
)
from .segmenter import SceneSegmenter, segment
from .tables import Row, write_report

logger = logging.getLogger(__name__)

TASK_STAGES = ("semantic", "text2img", "inpaint", "upscale")
# Objects a user asks the inpainting tab to paint on the ground: evaluator class -> the prompt, as a user types it
NAMED_OBJECTS = (("house", "a red house"), ("tree", "trees"), ("rock", "rocks"), ("flower", "flowers"))
FRECHET_LABELS = {
    "other held-out (floor)": "held-out vs other held-out (floor)",
    "autoencoder": "autoencoder reconstructions",
    "text2img": "text -> image samples",
    "semantic": "semantic -> image samples",
}


def heldout_scenes(cache_dir: Path, count: int) -> SceneArrays:
    """The evaluation's held-out scenes: seeds HELDOUT_SEED_OFFSET.. (never trained on), at least 200 of them."""
    return load_scenes(cache_dir, max(count, 200), HELDOUT_SEED_OFFSET)


def bicubic_x4(high: np.ndarray) -> tuple[list[Image.Image], np.ndarray]:
    """The x4 inputs (bicubic, antialiased, to 32x32) and the bicubic baseline back at 128x128."""
    low = [Image.fromarray(h).resize((32, 32), Image.BICUBIC) for h in high]
    return low, np.stack([np.asarray(lo.resize((128, 128), Image.BICUBIC)) for lo in low])


def psnr_each(images: np.ndarray, truth: np.ndarray, masks: np.ndarray | None = None) -> np.ndarray:
    return np.array(
        [
            psnr(a, b, None if masks is None else m)
            for a, b, m in zip(images, truth, masks if masks is not None else [None] * len(images), strict=True)
        ]
    )


def masked_tile(image: np.ndarray, mask: np.ndarray, output: np.ndarray) -> np.ndarray:
    """A grid tile: the input with its mask in white above what was painted."""
    shown = image.copy()
    shown[mask] = 255
    return np.concatenate([shown, output], 0)


class Evaluation:
    def __init__(self, family: Path, evaluator: Path, n: int, seed: int = 0, cache: Path = Path("cache")):
        self.family, self.n, self.seed, self.cache = family, n, seed, cache
        self.segmenter = SceneSegmenter.load(evaluator)
        self.engine = Engine(EngineConfig(model_root=family, save_outputs=False, offline=True))
        self.heldout: SceneArrays = heldout_scenes(cache, n)
        self.rows: list[Row] = []
        self.samples: dict[str, list[float]] = {}  # per-sample values of the per-sample metrics (results.json)
        self.grids: dict[str, list[np.ndarray]] = {}
        self.timings: dict[str, list[float]] = {}
        self.features: dict[str, np.ndarray] = {}

    def add(self, metric: str, value: float, interval=(float("nan"),) * 2, bar: str = "", threshold=None, decide=None):
        """A row; with `threshold`, met when the deciding interval (`decide`, else the value's) is wholly >= it."""
        ok, decided = None, True
        if threshold is not None:
            low, high = decide if decide is not None else interval
            ok, decided = bool(low >= threshold), bool(low >= threshold or high < threshold)
        self.rows.append(Row(metric, float(value), float(interval[0]), float(interval[1]), bar, ok, decided))
        logger.info("%-64s %.3f [%.3f, %.3f] %s", metric, value, *interval, bar)

    def add_mean(self, metric: str, values: np.ndarray, bar: str = "", threshold=None) -> None:
        self.samples[metric] = [float(v) for v in values]
        interval = bootstrap(len(values), lambda idx: float(values[idx].mean()), seed=self.seed)
        self.add(metric, float(values.mean()), interval, bar, threshold)

    def add_miou(self, metric: str, counts: np.ndarray, bar: str = "", threshold=None) -> None:
        interval = bootstrap(len(counts), lambda idx: miou_from_counts(counts[idx].sum(0)), seed=self.seed)
        self.add(metric, miou_from_counts(counts.sum(0)), interval, bar, threshold)

    def add_paired(self, metric: str, ours: np.ndarray, base: np.ndarray, margin: float, bar: str) -> None:
        """ours >= base + margin, decided on the interval of the paired mean difference."""
        self.samples[metric] = [float(v) for v in ours]
        mean = lambda values: lambda idx: float(values[idx].mean())  # noqa: E731
        diff = bootstrap(len(ours), mean(ours - base), seed=self.seed)
        self.add(
            metric,
            float(ours.mean()),
            bootstrap(len(ours), mean(ours), seed=self.seed),
            bar,
            0.0,
            (diff[0] - margin, diff[1] - margin),
        )

    def run(self, request, timing: str | None = None) -> np.ndarray:
        start = time.perf_counter()
        result = self.engine.run(request)
        self.timings.setdefault(timing or result.task, []).append(time.perf_counter() - start)
        return np.asarray(result.images[0].convert("RGB"))

    def evaluator_quality(self) -> None:
        pred, times, _ = segment(self.segmenter, self.heldout.images)
        counts = np.stack([iou_counts(p, t) for p, t in zip(pred, self.heldout.label_maps, strict=True)])
        self.add_miou("evaluator: mIoU on held-out scenes", counts, ">= 0.90", 0.90)
        self.add_mean("evaluator: time-of-day accuracy on held-out scenes", (times == self.heldout.times).astype(float))

    def autoencoder(self) -> None:
        vae = AutoencoderKL.from_pretrained(self.family / "vae", torch_dtype=torch.float32).eval()
        images = self.heldout.images[:200]
        with torch.no_grad():
            pixels = to_model_range(images, channels_last=True)
            recon = torch.cat([vae.decode(vae.encode(p).latent_dist.mean).sample for p in pixels.split(50)])
        recon = ((recon.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
        self.add_mean("autoencoder: PSNR on held-out scenes (dB)", psnr_each(recon, images), ">= 26", 26.0)
        pred, _, self.features["autoencoder"] = segment(self.segmenter, recon)
        counts = np.stack([iou_counts(p, t) for p, t in zip(pred, self.heldout.label_maps[:200], strict=True)])
        self.add_miou("autoencoder: evaluator mIoU on reconstructions", counts, ">= 0.85", 0.85)
        self.grids["autoencoder"] = [np.concatenate([a, b], 0) for a, b in zip(images[:8], recon[:8], strict=False)]

    def semantic(self) -> None:
        maps = self.heldout.label_maps[: self.n]
        generated = np.stack(
            [
                self.run(SemanticMapRequest(color_map=Image.fromarray(label_map_to_color(m)), seed=self.seed + i))
                for i, m in enumerate(maps)
            ]
        )
        pred, _, self.features["semantic"] = segment(self.segmenter, generated)
        counts = np.stack([iou_counts(p, t) for p, t in zip(pred, maps, strict=True)])
        self.add_miou("semantic map -> image: map adherence mIoU", counts, ">= 0.75", 0.75)
        pairs = zip(maps[:8], generated[:8], strict=True)
        self.grids["semantic"] = [np.concatenate([label_map_to_color(m), g], 0) for m, g in pairs]

    def text(self) -> None:
        captions = self.heldout.captions[: self.n]
        generated = np.stack(
            [self.run(TextToImageRequest(prompt=c, seed=self.seed + i)) for i, c in enumerate(captions)]
        )
        pred, times, self.features["text2img"] = segment(self.segmenter, generated)
        table = attribute_table(captions, pred, times)
        # Chance level: the same images judged against other images' captions.
        shuffled = attribute_table(captions[1:] + captions[:1], pred, times)
        count, seed = len(captions), self.seed
        value = found_fraction(table)
        self.add(
            "text -> image: prompted attributes found (time of day and objects)",
            value,
            bootstrap(count, lambda idx: found_fraction(table, idx), seed=seed),
            ">= 0.80",
            0.80,
        )
        self.add(
            "text -> image: same images against shuffled captions (chance level)",
            found_fraction(shuffled),
            bootstrap(count, lambda idx: found_fraction(shuffled, idx), seed=seed),
        )
        for name in ("time", *PROMPT_ATTRIBUTES):
            named = table[name][table[name] >= 0].astype(float)
            chance = shuffled[name][shuffled[name] >= 0].astype(float)
            if len(named) == 0:
                continue
            what = "time of day right" if name == "time" else f"'{name}' found when named"
            self.add_mean(
                f"text -> image: {what} ({len(named)} prompts; chance {chance.mean():.2f})",
                named,
                ">= 0.85" if name == "time" else ">= 0.70",
                0.85 if name == "time" else 0.70,
            )
        self.grids["text2img"] = list(generated[:8])
        self.grid_captions = captions[:8]

    def inpaint(self) -> None:
        masks = random_masks(self.n, 128, np.random.default_rng(self.seed))[:, 0].numpy() > 0.5
        keep = [i for i in range(self.n) if masks[i].any() and not masks[i].all()]
        outputs, grid = [], []
        for i in keep:
            image, mask = self.heldout.images[i], masks[i]
            outputs.append(self.run_inpaint(image, mask, self.heldout.captions[i], self.seed + i))
            if len(grid) < 8:
                grid.append(masked_tile(image, mask, outputs[-1]))
        outputs, truth, masks = np.stack(outputs), self.heldout.images[keep], masks[keep]
        ours = psnr_each(outputs, truth, masks)
        base = psnr_each(np.stack([blur_fill(t, m) for t, m in zip(truth, masks, strict=True)]), truth, masks)
        self.add_paired("inpainting: PSNR inside the mask (dB)", ours, base, 0.0, ">= blur-fill")
        self.add_mean("inpainting: blur-fill baseline PSNR inside the mask (dB)", base)
        pred, _, _ = segment(self.segmenter, outputs)
        labels = self.heldout.label_maps[keep]
        counts = np.stack([iou_counts(p[m], t[m]) for p, t, m in zip(pred, labels, masks, strict=True)])
        self.add_miou("inpainting: evaluator mIoU inside the mask against the true scene", counts, ">= 0.60", 0.60)
        hf_ours, hf_truth = high_frequency_each(outputs, masks), high_frequency_each(truth, masks)
        ratio = lambda idx: float(hf_ours[idx].mean() / hf_truth[idx].mean())  # noqa: E731
        interval = bootstrap(len(keep), ratio, seed=self.seed)
        self.add(
            f"inpainting: high-frequency energy in the mask / the truth's ({hf_truth.mean():.2f})",
            ratio(np.arange(len(keep))),
            interval,
            ">= 0.5",
            0.5,
        )
        self.add_mean(
            "inpainting: boundary seam (mean colour step; ground truth below)",
            np.array([seam(o, m) for o, m in zip(outputs, masks, strict=True)]),
        )
        self.add_mean(
            "inpainting: boundary seam of the ground truth",
            np.array([seam(t, m) for t, m in zip(truth, masks, strict=True)]),
        )
        self.grids["inpaint"] = grid
        self.inpaint_named()

    def inpaint_named(self) -> None:
        """A box on the ground and a prompt naming one object for it: does the evaluator find that object in the box
        (on at least a tenth of its pixels)? Chance level: the same boxes with the scene's own caption."""
        rng = np.random.default_rng(self.seed + 1)
        size = self.heldout.images.shape[1]
        side = size * 3 // 8
        names, masks, named, own = [], [], [], []
        for i in range(self.n):
            name, phrase = NAMED_OBJECTS[i % len(NAMED_OBJECTS)]
            y, x = int(rng.integers(size // 2, size - side + 1)), int(rng.integers(0, size - side + 1))
            mask = np.zeros((size, size), dtype=bool)
            mask[y : y + side, x : x + side] = True
            image = self.heldout.images[i]
            named.append(self.run_inpaint(image, mask, phrase, self.seed + i))
            own.append(self.run_inpaint(image, mask, self.heldout.captions[i], self.seed + i))
            names.append(name)
            masks.append(mask)

        def found_in_box(outputs: list[np.ndarray]) -> np.ndarray:
            pred, _, _ = segment(self.segmenter, np.stack(outputs))
            boxes = zip(pred, masks, names, strict=True)
            return np.array([float((p[m] == CLASS_ID[c]).mean() >= 0.1) for p, m, c in boxes])

        found, chance, names = found_in_box(named), found_in_box(own), np.array(names)
        self.add_mean(
            f"inpainting: object named for a box found in it (chance {chance.mean():.2f})", found, ">= 0.50", 0.50
        )
        for name, phrase in NAMED_OBJECTS:
            this = names == name
            self.add_mean(
                f"inpainting: '{phrase}' found in its box ({this.sum()} boxes; chance {chance[this].mean():.2f})",
                found[this],
            )
        self.grids["inpaint_named"] = [
            masked_tile(self.heldout.images[i], masks[i], named[i]) for i in range(min(8, self.n))
        ]

    def run_inpaint(self, image: np.ndarray, mask: np.ndarray, prompt: str, seed: int) -> np.ndarray:
        """Inpaint `mask` (boolean) of a held-out scene with `prompt`, unblurred, through the engine."""
        mask_image = Image.fromarray(mask.astype(np.uint8) * 255)
        request = InpaintRequest(image=Image.fromarray(image), mask=mask_image, prompt=prompt, seed=seed, mask_blur=0)
        return self.run(request, "inpaint")

    def upscale(self) -> None:
        def run_set(high: np.ndarray, label: str, margin: float) -> None:
            low, bicubic = bicubic_x4(high)
            sr = np.stack([self.run(UpscaleRequest(image=lo, seed=self.seed + i)) for i, lo in enumerate(low)])
            ours, base = psnr_each(sr, high), psnr_each(bicubic, high)
            self.add_paired(f"x4 {label}: PSNR (dB)", ours, base, margin, f">= bicubic{margin:+.0f}")
            self.add_mean(f"x4 {label}: bicubic PSNR (dB)", base)
            hf = [high_frequency_each(images) for images in (sr, bicubic, high)]
            self.add_paired(
                f"x4 {label}: high-frequency energy, ours (bicubic {hf[1].mean():.2f}, truth {hf[2].mean():.2f})",
                hf[0],
                hf[1],
                0.0,
                "> bicubic",
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
        crops = random_crops(photos, max(8, self.n // 2), 128, np.random.default_rng(self.seed))
        run_set(crops, "held-out photos", -1.0)

    def frechet(self) -> None:
        """Fréchet Segmenter Distance to the held-out scenes, each set resampled for the interval (200 resamples)."""
        _, _, real = segment(self.segmenter, self.heldout.images[: self.n])
        other = load_scenes(self.cache, self.n, HELDOUT_SEED_OFFSET + 500_000)
        _, _, self.features["other held-out (floor)"] = segment(self.segmenter, other.images)
        rng = np.random.default_rng(self.seed)
        for name, features in self.features.items():
            values = [
                frechet_distance(
                    real[rng.integers(0, len(real), len(real))], features[rng.integers(0, len(features), len(features))]
                )
                for _ in range(200)
            ]
            label = FRECHET_LABELS.get(name, name)
            self.add(
                f"Frechet Segmenter Distance: {label}",
                frechet_distance(real, features),
                (float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))),
            )

    def speed(self) -> None:
        """The speed bars, from the median latencies measured above (default settings, this machine)."""
        bars = {"text2img": 1.5, "semantic": 1.5, "inpaint": 1.5, "upscale 128->512": 3.0}
        for task, bar in bars.items():
            if task in self.timings:
                values = np.array(self.timings[task])
                interval = bootstrap(len(values), lambda idx, v=values: float(np.median(v[idx])), seed=self.seed)
                value = float(np.median(values))
                self.add(f"speed: {task}, median seconds per image", value, interval, f"<= {bar}")
                # judged on the median alone, and only on a machine not loaded beyond its cores
                load, cores = os.getloadavg()[0], os.cpu_count() or 1
                self.rows[-1].ok = value <= bar if load <= cores else None
                if load > cores:
                    self.rows[-1].bar = f"<= {bar} (not judged: load average {load:.1f} on {cores} cores)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", type=Path, default=Path("assets/builtin"))
    parser.add_argument("--evaluator", type=Path, default=Path("assets/evaluator"))
    parser.add_argument("--out", type=Path, default=Path("docs/evaluation"))
    parser.add_argument("--cache", type=Path, default=Path("cache"))
    parser.add_argument("--n", type=int, default=128, help="samples per task (the committed table: 128)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tasks", nargs="+", choices=TASK_STAGES, default=list(TASK_STAGES))
    parser.add_argument("--skip-autoencoder", action="store_true", help="(and the evaluator's own quality)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    ev = Evaluation(args.family, args.evaluator, args.n, args.seed, args.cache)
    if not args.skip_autoencoder:
        ev.evaluator_quality()
        ev.autoencoder()
    status = ev.engine.task_status()
    stages = {"semantic": ev.semantic, "text2img": ev.text, "inpaint": ev.inpaint, "upscale": ev.upscale}
    for task in args.tasks:
        if status.get(task) is None:
            stages[task]()
        else:
            logger.warning("%s unavailable: %s", task, status[task])
    if ev.features:
        ev.frechet()
    ev.speed()
    command = "python -m ldm_train.evaluation.report " + " ".join(
        [f"--n {args.n} --seed {args.seed}"]
        + ([f"--tasks {' '.join(args.tasks)}"] if list(args.tasks) != list(TASK_STAGES) else [])
        + (["--skip-autoencoder"] if args.skip_autoencoder else [])
        + ([f"--family {args.family}"] if args.family != Path("assets/builtin") else [])
    )
    write_report(ev, args.out, command, time.perf_counter() - start)


if __name__ == "__main__":
    main()
