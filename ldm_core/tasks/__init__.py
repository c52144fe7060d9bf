"""One short recipe per task over the shared stages in `common`; `RECIPES` maps a request type to its recipe."""

from __future__ import annotations

from ..requests import InpaintRequest, SemanticMapRequest, TextToImageRequest, UpscaleRequest
from . import inpaint, semantic, text2img, upscale

RECIPES = {
    TextToImageRequest: ("text2img", text2img.run),
    SemanticMapRequest: ("semantic", semantic.run),
    InpaintRequest: ("inpaint", inpaint.run),
    UpscaleRequest: ("upscale", upscale.run),
}
