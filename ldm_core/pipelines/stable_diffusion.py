"""diffusers' Stable Diffusion pipeline classes, imported for the whole core here.

Importing them makes transformers resolve `CLIPImageProcessor` and `SiglipImageProcessor`, and without torchvision it
logs that they fall back to their PIL versions. The studio never uses an image processor (its pipelines are built
without a feature extractor or safety checker), so that notice alone is dropped, during this import only.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

FALLBACK_NOTICE = "requires torchvision (not installed); falling back to"


class _DropFallbackNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return FALLBACK_NOTICE not in record.getMessage()


@contextlib.contextmanager
def _without_fallback_notice() -> Iterator[None]:
    logger, notice_filter = logging.getLogger("transformers.utils.import_utils"), _DropFallbackNotice()
    logger.addFilter(notice_filter)
    try:
        yield
    finally:
        logger.removeFilter(notice_filter)


with _without_fallback_notice():
    from diffusers import (
        StableDiffusionControlNetPipeline,
        StableDiffusionInpaintPipeline,
        StableDiffusionPipeline,
    )

__all__ = ["StableDiffusionControlNetPipeline", "StableDiffusionInpaintPipeline", "StableDiffusionPipeline"]
