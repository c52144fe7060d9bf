"""Real photographs shipped with scikit-image, split into training and held-out sets (for the autoencoder and x4)."""

from __future__ import annotations

import numpy as np

TRAIN_PHOTOS = (
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "camera",
    "coins",
    "grass",
    "gravel",
    "brick",
    "moon",
    "clock",
    "page",
    "text",
    "cell",
    "stereo_motorcycle",
)
HELDOUT_PHOTOS = ("astronaut", "coffee")  # never seen in training


def load_photo(name: str) -> np.ndarray:
    """An (H, W, 3) uint8 RGB photo from skimage.data."""
    import skimage.data

    image = getattr(skimage.data, name)()
    if isinstance(image, tuple):
        image = image[0]
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return image[..., :3].astype(np.uint8)


def random_crops(photos: list[np.ndarray], count: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """`count` random size x size crops (random photo, position, flip), (count, size, size, 3) uint8."""
    crops = np.empty((count, size, size, 3), dtype=np.uint8)
    for i in range(count):
        photo = photos[rng.integers(len(photos))]
        y = rng.integers(0, photo.shape[0] - size + 1)
        x = rng.integers(0, photo.shape[1] - size + 1)
        crop = photo[y : y + size, x : x + size]
        crops[i] = crop[:, ::-1] if rng.random() < 0.5 else crop
    return crops
