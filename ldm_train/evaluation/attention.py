"""Is the explorer's cross-attention real? For prompts that name classes the built-in model draws, 16 seeds each: the
share of each class word's attention (DAAM map, ldm_core.explorer.attention) that falls on the pixels the evaluator
segments as that class, against that class's share of the image. A word that attends where its thing is drawn
scores well above 1 (bar: >= 1.5); a word that looks everywhere scores 1. The control column measures the same
maps turned upside down: a measurement that follows the map's position moves with it.

    python -m ldm_train.evaluation.explorer attention --out docs/evaluation/attention.md
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ldm_core.explorer.attention import attention_maps, attention_share
from ldm_core.palette import CLASS_ID
from ldm_core.requests import TextToImageRequest

from .segmenter import SceneSegmenter, segment

logger = logging.getLogger(__name__)

PROMPTS = (
    "a landscape with mountains, trees and a lake under a blue sky",  # all four classes the bar names
    "rocky mountains above a calm lake on a clear day",
    "pine trees by a river at sunset",
    "a lake under a blue sky",
)
WATER = ("water", "sea", "river")  # the evaluator tells lake, sea and river apart; a water word may mean any
WORD_CLASSES: dict[str, tuple[str, ...]] = {
    "mountains": ("mountain",),
    "mountain": ("mountain",),
    "peaks": ("mountain",),
    "lake": WATER,
    "sea": WATER,
    "ocean": WATER,
    "river": WATER,
    "stream": WATER,
    "trees": ("tree",),
    "forest": ("tree",),
    "sky": ("sky",),
    "house": ("house",),
    "road": ("road",),
    "beach": ("sand",),
    "field": ("field",),
    "flowers": ("flower",),
    "hills": ("hill",),
    "grass": ("grass",),
    "meadow": ("grass",),
    "rocks": ("rock",),
}
PRESENT_FRACTION = 0.01  # a class counts as drawn above 1% of the pixels (as the evaluation report counts it)
BAR = 1.5


@dataclass
class WordScore:
    prompt: str
    word: str
    classes: tuple[str, ...]
    attention: list[float] = field(default_factory=list)  # per image where the class is drawn
    flipped: list[float] = field(default_factory=list)  # the same map upside down: a control for the measurement
    pixels: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return float(np.mean(self.attention) / np.mean(self.pixels)) if self.pixels else float("nan")

    @property
    def flipped_ratio(self) -> float:
        return float(np.mean(self.flipped) / np.mean(self.pixels)) if self.pixels else float("nan")


def score_prompts(
    engine: Any, segmenter: SceneSegmenter, seeds: int, steps: int, prompts: Sequence[str] = PROMPTS
) -> list[WordScore]:
    scores: list[WordScore] = []
    for prompt in prompts:
        own = {}
        for seed in range(seeds):
            request = TextToImageRequest(prompt=prompt, seed=seed, num_inference_steps=steps)
            maps = attention_maps(engine, request)
            labels, _, _ = segment(segmenter, np.array(maps.image.convert("RGB"))[None])
            for item in maps.words:
                classes = WORD_CLASSES.get(item.word.text.lower())
                if classes is None:
                    continue
                score = own.setdefault(item.word.text, WordScore(prompt, item.word.text, classes))
                mask = np.isin(labels[0], [CLASS_ID[name] for name in classes])
                if mask.mean() >= PRESENT_FRACTION:
                    score.attention.append(attention_share(item.heat, mask))
                    score.flipped.append(attention_share(item.heat[::-1], mask))
                    score.pixels.append(float(mask.mean()))
        scores.extend(own.values())
        logger.info("%s: %s", prompt, ", ".join(f"{s.word} {s.ratio:.2f}" for s in own.values()))
    return scores


def attention_table(
    engine: Any, evaluator: Path, seeds: int = 16, steps: int = 15, prompts: Sequence[str] = PROMPTS
) -> str:
    """A markdown table: per prompt and class word, attention share on the class, pixel share, their ratio."""
    segmenter = SceneSegmenter.load(evaluator)
    scores = score_prompts(engine, segmenter, seeds, steps, prompts)
    lines = [
        f"{seeds} seeds per prompt, {steps} steps, the default sampler and guidance; images where the evaluator finds "
        f"the class on at least {PRESENT_FRACTION:.0%} of the pixels. Bar: ratio >= {BAR}.",
        "",
        "| prompt | word | evaluator classes | images with the class | attention on the class | class share of "
        "the image | ratio | ratio, map upside down (control) | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for score in scores:
        if score.pixels:
            cells = [f"{np.mean(score.attention):.3f}", f"{np.mean(score.pixels):.3f}", f"{score.ratio:.2f}"]
            cells.append(f"{score.flipped_ratio:.2f}")
            verdict = "met" if score.ratio >= BAR else "NOT met"
        else:
            cells, verdict = ["-", "-", "-", "-"], "class never drawn"
        lines.append(
            f"| {score.prompt} | {score.word} | {', '.join(score.classes)} | {len(score.pixels)}/{seeds} | "
            + " | ".join(cells)
            + f" | {verdict} |"
        )
    return "\n".join(lines)
