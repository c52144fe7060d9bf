"""The evaluation's metrics, each kept per sample so that a bootstrap gives every number its 95% interval."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import linalg, ndimage

from ldm_core.palette import CLASS_ID, NUM_CLASSES

from ..data.scenes import TIMES

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
BOOTSTRAP_REPS = 1000


def bootstrap(count: int, statistic: Callable[[np.ndarray], float], reps: int = BOOTSTRAP_REPS, seed: int = 0):
    """95% percentile interval of `statistic(idx)` over `reps` resamples (with replacement) of `count` samples.
    Paired statistics (ours against a baseline on the same inputs) index both with the same `idx`."""
    if count < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    values = np.array([statistic(rng.integers(0, count, count)) for _ in range(reps)])
    return float(np.nanpercentile(values, 2.5)), float(np.nanpercentile(values, 97.5))


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    diff = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    mse = diff[mask].mean() if mask is not None else diff.mean()
    return float(10 * np.log10(255.0**2 / max(mse, 1e-10)))


def iou_counts(pred: np.ndarray, target: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Per-sample (intersection, predicted, target) pixel counts per class: (3, K). Sums over samples give the set's
    mIoU exactly as segmenter.mean_iou computes it."""
    pred, target = pred.ravel().astype(np.int64), target.ravel().astype(np.int64)
    inter = np.bincount(target[pred == target], minlength=num_classes)
    return np.stack([inter, np.bincount(pred, minlength=num_classes), np.bincount(target, minlength=num_classes)])


def miou_from_counts(counts: np.ndarray) -> float:
    """mIoU over the classes present in either map, from summed (3, K) counts."""
    inter, pred, target = counts
    union = pred + target - inter
    valid = union > 0
    return float((inter[valid] / union[valid]).mean()) if valid.any() else float("nan")


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean, _ = linalg.sqrtm(s1 @ s2, disp=False)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean.real))


def high_frequency_each(images: np.ndarray, masks: np.ndarray | None = None) -> np.ndarray:
    """Per image: mean absolute Laplacian of the luminance (inside `masks` when given): how much fine detail."""
    out = []
    for i, image in enumerate(images):
        laplace = np.abs(ndimage.laplace(image.astype(np.float64).mean(-1)))
        out.append(laplace[masks[i]].mean() if masks is not None else laplace.mean())
    return np.array(out)


def high_frequency(images: np.ndarray) -> float:
    return float(high_frequency_each(images).mean())


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


def present(label_map: np.ndarray, attribute: str) -> bool:
    fractions = np.bincount(label_map.ravel(), minlength=len(CLASS_ID)) / label_map.size
    return any(fractions[CLASS_ID[c]] >= PRESENT_FRACTION for c in PROMPT_ATTRIBUTES[attribute][1])


def attribute_table(captions: list[str], label_maps: np.ndarray, time_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Per sample and per thing a caption can name (time of day, water, trees...): 1 found, 0 missed, -1 not named."""
    names = ["time", *PROMPT_ATTRIBUTES]
    table = {name: np.full(len(captions), -1, dtype=np.int8) for name in names}
    for i, (caption, label_map, time_id) in enumerate(zip(captions, label_maps, time_ids, strict=True)):
        want_time, attrs = caption_attributes(caption)
        if want_time is not None:
            table["time"][i] = TIMES[time_id] == want_time
        for name in attrs:
            table[name][i] = present(label_map, name)
    return table


def found_fraction(table: dict[str, np.ndarray], idx: np.ndarray | None = None) -> float:
    """Of everything the captions named (over the samples `idx`), the fraction found in the images."""
    columns = np.stack([column if idx is None else column[idx] for column in table.values()])
    asked = (columns >= 0).sum()
    return float((columns == 1).sum() / asked) if asked else float("nan")


def attribute_score(captions: list[str], label_maps: np.ndarray, time_ids: np.ndarray) -> float:
    """Fraction of the attributes named in each caption (time of day, water, trees...) found in its image."""
    return found_fraction(attribute_table(captions, label_maps, time_ids))
