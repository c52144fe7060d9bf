"""Every request is checked here before any model runs: each rule names the field, the value and the fix.

Images in any common mode are accepted by converting (RGBA, LA, P, L, 1, CMYK, 16-bit and float greyscale); files
that cannot be decoded (corrupt, truncated, decompression bombs) are refused by name. The work one request may cause
(steps, batch, pixels, prompt length, image sides) is bounded by `Limits`, which the entry point fills from its flags.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps

from .errors import InvalidRequestError
from .limits import Limits
from .palette import snap_to_palette
from .requests import (
    CascadeOptions,
    GenerationRequest,
    InpaintRequest,
    SemanticMapRequest,
    TextToImageRequest,
    UpscaleRequest,
)
from .schedulers import SAMPLERS

DEFAULT_LIMITS = Limits()
MAX_GUIDANCE = 30.0
MAX_SEED = 2**32 - 1  # seeds are 0..MAX_SEED; -1 draws one


def batch_seeds(seed: int, count: int) -> list[int]:
    """Image i of a batch uses seed + i (wrapping past MAX_SEED): the same image it would be alone."""
    return [(seed + index) % (MAX_SEED + 1) for index in range(count)]


SIZE_MULTIPLE = 8
MIN_SIZE = 32  # text-to-image width/height (the most is Limits.max_size)
MIN_IMAGE_SIDE = 16  # input images (the most is Limits.max_image_side / max_upscale_side)
UPSCALE_FACTOR = 16  # output pixels per input pixel of the x4 upscaler
MAX_MASK_BLUR, MAX_PADDING = 64, 512
MIN_TILE, MAX_TILE, MAX_TILE_OVERLAP = 16, 512, 128
SEMANTIC_OUTPUT_SIZES = ("map", "model")
MAX_SIZE_SCALE = 2  # text-to-image at the model's size times this, when no width/height is given
ACCEPTED_FORMATS = frozenset({"PNG", "JPEG", "MPO", "WEBP", "BMP", "GIF", "TIFF"})  # decoders Pillow may use
MAP_WORKING_SIDE = 1024  # colour maps are reduced to this before snapping (the models work at 512 or less)
OFF_PALETTE_WARNING = 0.05  # warn when more than 5% of a map's pixels are not exact palette colours


@dataclass
class CheckedInputs:
    """Inputs converted to what the tasks expect: RGB images, a binary L mask, a label map; plus warnings."""

    image: Image.Image | None = None
    mask: Image.Image | None = None
    label_map: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)


def check_request(request: GenerationRequest, limits: Limits = DEFAULT_LIMITS) -> CheckedInputs:
    """Raise InvalidRequestError for the first broken rule; return the converted inputs (the task's own `check`)."""
    from .registry import TASKS, task_for  # the registry holds this module's checks: imported when first used

    spec = task_for(request)
    if spec is None:
        requests = ", ".join(entry.request.__name__ for entry in TASKS.values())
        raise InvalidRequestError("request", type(request).__name__, f"must be a task request ({requests})")
    check_sampling(request, limits)
    if isinstance(request, CascadeOptions):
        check_cascade(request, limits)
    return spec.check(request, limits)


def _integer(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidRequestError(name, value, "must be an integer")
    if not low <= value <= high:
        raise InvalidRequestError(name, value, f"must be between {low} and {high}")
    return int(value)


def _flag(name: str, value: object) -> None:
    if not isinstance(value, bool | np.bool_):
        raise InvalidRequestError(name, value, "must be True or False")


def _number(name: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise InvalidRequestError(name, value, "must be a number")
    if not math.isfinite(value) or not low <= value <= high:
        raise InvalidRequestError(name, value, f"must be between {low:g} and {high:g}")
    return float(value)


def _text(name: str, value: object, limits: Limits) -> str:
    if not isinstance(value, str):
        raise InvalidRequestError(name, value, "must be text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:  # a lone surrogate: no tokenizer or PNG chunk can hold it
        raise InvalidRequestError(
            name, f"a broken character at position {error.start}", "must be valid Unicode text; retype that character"
        ) from error
    if len(value) > limits.max_prompt_chars:
        raise InvalidRequestError(
            name, f"{len(value)} characters", f"must be at most {limits.max_prompt_chars} characters"
        )
    return value


def _pixels(name: str, size: tuple[int, int], per_pixel: int, batch: int, limits: Limits) -> None:
    """Output pixels of the whole request (width x height x batch, x16 for the upscaler) within Limits.max_pixels."""
    total = size[0] * size[1] * per_pixel * batch
    if total > limits.max_pixels:
        raise InvalidRequestError(
            name,
            f"{size[0]}x{size[1]} x batch {batch}",
            f"asks for {total:,} output pixels; the most per request is {limits.max_pixels:,} "
            "(use a smaller size or batch)",
        )


def check_sampling(request: GenerationRequest, limits: Limits = DEFAULT_LIMITS) -> None:
    _integer("num_inference_steps", request.num_inference_steps, 1, limits.max_steps)
    _number("guidance_scale", request.guidance_scale, 0.0, MAX_GUIDANCE)
    _integer("batch_size", request.batch_size, 1, limits.max_batch)
    seed = request.seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise InvalidRequestError("seed", seed, "must be an integer (-1 for a random seed)")
    if seed != -1 and not 0 <= seed <= MAX_SEED:
        raise InvalidRequestError("seed", seed, f"must be -1 (random) or between 0 and {MAX_SEED}")
    if not isinstance(request.scheduler, str) or request.scheduler not in SAMPLERS:
        raise InvalidRequestError("scheduler", request.scheduler, f"must be one of {', '.join(SAMPLERS)}")


def check_cascade(request: CascadeOptions, limits: Limits = DEFAULT_LIMITS) -> None:
    _flag("upscale_x4", request.upscale_x4)
    if request.upscale_x4:  # the x4 pass's steps matter only when it runs
        _integer("upscale_steps", request.upscale_steps, 1, limits.max_steps)
    width, height = getattr(request, "width", None), getattr(request, "height", None)
    if not request.upscale_x4 or width is None or height is None:
        return
    if max(width, height) > limits.max_upscale_side:
        raise InvalidRequestError(
            "upscale_x4",
            f"{width}x{height}",
            f"needs width and height at most {limits.max_upscale_side} (the x4 input limit); "
            "use a smaller size or turn the x4 upscale off",
        )
    _pixels("width", (width, height), UPSCALE_FACTOR, getattr(request, "batch_size", 1), limits)


def check_text_to_image(request: TextToImageRequest, limits: Limits = DEFAULT_LIMITS) -> CheckedInputs:
    _text("prompt", request.prompt, limits)
    _text("negative_prompt", request.negative_prompt, limits)
    for name in ("width", "height"):
        value = getattr(request, name)
        if value is None:
            continue
        _integer(name, value, MIN_SIZE, limits.max_size)
        if value % SIZE_MULTIPLE:
            raise InvalidRequestError(name, value, f"must be a multiple of {SIZE_MULTIPLE}")
    _integer("size_scale", request.size_scale, 1, MAX_SIZE_SCALE)
    if request.width is not None and request.height is not None:
        _pixels("width", (request.width, request.height), 1, request.batch_size, limits)
    return CheckedInputs()


def check_semantic_map(request: SemanticMapRequest, limits: Limits = DEFAULT_LIMITS) -> CheckedInputs:
    _text("prompt", request.prompt, limits)
    _text("negative_prompt", request.negative_prompt, limits)
    if request.output_size not in SEMANTIC_OUTPUT_SIZES:
        raise InvalidRequestError(
            "output_size", request.output_size, f"must be one of {', '.join(SEMANTIC_OUTPUT_SIZES)}"
        )
    color_map = working_size(to_rgb("color_map", request.color_map, limits.max_image_side))
    _pixels("color_map", color_map.size, 1, request.batch_size, limits)
    snapped = snap_to_palette(np.asarray(color_map))
    if snapped.off_palette_fraction >= 1.0:
        raise InvalidRequestError(
            "color_map", "no palette colour", "must be painted with the class palette colours (ldm_core.palette)"
        )
    warnings = []
    if snapped.off_palette_fraction > OFF_PALETTE_WARNING:
        warnings.append(
            f"{snapped.off_palette_fraction:.0%} of the map's pixels are not palette colours; "
            "they were snapped to the nearest class"
        )
    return CheckedInputs(label_map=snapped.label_map, warnings=warnings)


def check_inpaint(request: InpaintRequest, limits: Limits = DEFAULT_LIMITS) -> CheckedInputs:
    _text("prompt", request.prompt, limits)
    _text("negative_prompt", request.negative_prompt, limits)
    strength = _number("strength", request.strength, 0.0, 1.0)
    if strength * request.num_inference_steps < 1:
        raise InvalidRequestError("strength", strength, "times num_inference_steps must be at least 1 (one step)")
    _integer("mask_blur", request.mask_blur, 0, MAX_MASK_BLUR)
    _integer("only_masked_padding", request.only_masked_padding, 0, MAX_PADDING)
    for name in ("invert_mask", "only_masked"):
        _flag(name, getattr(request, name))
    image = to_rgb("image", request.image, limits.max_image_side)
    _integer("outpaint_feather", request.outpaint_feather, 0, MAX_MASK_BLUR)
    sides = {name: getattr(request, f"extend_{name}") for name in ("left", "top", "right", "bottom")}
    for name, value in sides.items():
        _integer(f"extend_{name}", value, 0, limits.max_image_side)
    canvas = (image.width + sides["left"] + sides["right"], image.height + sides["top"] + sides["bottom"])
    if max(canvas) > limits.max_image_side:
        raise InvalidRequestError(
            "extend", f"{canvas[0]}x{canvas[1]} canvas", f"must be at most {limits.max_image_side} pixels on each side"
        )
    _pixels("image", canvas, 1, request.batch_size, limits)
    if request.mask is None and request.extends:
        return CheckedInputs(image=image)  # outpainting alone: the new band is the mask
    if request.mask is None:
        raise InvalidRequestError("mask", None, "is needed: paint the area to repaint, or extend the picture")
    mask = to_mask("mask", request.mask, image.size, request.invert_mask, limits.max_image_side, request.extends)
    return CheckedInputs(image=image, mask=mask)


def check_upscale(request: UpscaleRequest, limits: Limits = DEFAULT_LIMITS) -> CheckedInputs:
    image = to_rgb("image", request.image, limits.max_upscale_side)
    _pixels("image", image.size, UPSCALE_FACTOR, request.batch_size, limits)
    if request.tile_size is not None:
        _integer("tile_size", request.tile_size, MIN_TILE, MAX_TILE)
        if request.tile_size % SIZE_MULTIPLE:
            raise InvalidRequestError("tile_size", request.tile_size, f"must be a multiple of {SIZE_MULTIPLE}")
    _integer("tile_overlap", request.tile_overlap, 0, MAX_TILE_OVERLAP)  # capped at a quarter tile by the task
    _number("strength", request.strength, 0.0, 1.0)  # the pipeline always runs at least one step
    _flag("back_project", request.back_project)
    return CheckedInputs(image=image)


def image_file_error(name: str, error: BaseException, limits: Limits = DEFAULT_LIMITS) -> InvalidRequestError:
    """The named error for an image that could not be decoded (a bomb, a corrupt or truncated file, an odd format)."""
    if isinstance(error, Image.DecompressionBombError):
        side = limits.max_image_side
        return InvalidRequestError(
            name,
            "too many pixels to decode",
            f"must have at most {limits.max_image_pixels:,} pixels ({side}x{side}); downscale the image first",
        )
    return InvalidRequestError(
        name,
        f"unreadable image ({type(error).__name__})",
        "must be a complete PNG, JPEG or WebP file (this one is corrupt, truncated or not an image); "
        "re-save it and upload again",
    )


def apply_decoder_limit(limits: Limits) -> None:
    """Pillow refuses (DecompressionBombError) any file past twice `limits.max_image_pixels` before decoding it, and
    decodes only the formats the studio accepts (no EPS, which would run Ghostscript, nor other exotic decoders)."""
    Image.MAX_IMAGE_PIXELS = limits.max_image_pixels
    Image.init()  # every plugin registered now, so Pillow never re-registers the ones dropped below
    for name in list(Image.OPEN):
        if name not in ACCEPTED_FORMATS:
            del Image.OPEN[name]
    Image.ID[:] = [name for name in Image.ID if name in ACCEPTED_FORMATS]


def working_size(color_map: Image.Image) -> Image.Image:
    """A colour map reduced (nearest neighbour: colours kept) to at most MAP_WORKING_SIDE, before any per-pixel work:
    no model works above it, and palette snapping on a 4096x4096 map took gigabytes."""
    if max(color_map.size) <= MAP_WORKING_SIDE:
        return color_map
    scale = MAP_WORKING_SIDE / max(color_map.size)
    size = (max(1, round(color_map.width * scale)), max(1, round(color_map.height * scale)))
    return color_map.resize(size, Image.Resampling.NEAREST)


def _check_size(name: str, image: object, max_side: int) -> Image.Image:
    if not isinstance(image, Image.Image):
        raise InvalidRequestError(name, type(image).__name__, "must be a PIL image")
    width, height = image.size
    if min(width, height) < MIN_IMAGE_SIDE:
        raise InvalidRequestError(name, f"{width}x{height}", f"must be at least {MIN_IMAGE_SIDE} pixels on each side")
    if max(width, height) > max_side:
        raise InvalidRequestError(name, f"{width}x{height}", f"must be at most {max_side} pixels on each side")
    try:
        image.load()  # a lazily opened file decodes here: a truncated or corrupt one fails by name, not mid-run
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise image_file_error(name, error) from error
    return image


def _to_8bit_grey(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer and float greyscale -> 8-bit L, scaling the range instead of clipping it."""
    values = np.asarray(image).astype(np.float64)
    if image.mode == "F":
        scale = 255.0 if values.max(initial=0) <= 1.0 else 1.0
    else:
        scale = 255.0 / 65535.0 if image.mode.startswith("I;16") or values.max(initial=0) > 255 else 1.0
    return Image.fromarray(np.clip(values * scale, 0, 255).round().astype(np.uint8), mode="L")


def upright(image: Image.Image) -> Image.Image:
    """The image as it is meant to be seen: its EXIF orientation applied (a photo taken sideways stands up)."""
    try:
        orientation = image.getexif().get(0x0112, 1)
    except (OSError, ValueError, SyntaxError):
        return image
    return ImageOps.exif_transpose(image) if orientation not in (None, 1) else image


def to_rgb(name: str, image: object, max_side: int) -> Image.Image:
    """Any PIL mode -> RGB (alpha is dropped; palette images go through RGBA), upright (EXIF orientation applied)."""
    image = upright(_check_size(name, image, max_side))
    if image.mode == "RGB":
        return image
    try:
        if image.mode.startswith("I") or image.mode == "F":
            return _to_8bit_grey(image).convert("RGB")
        if image.mode == "P":
            image = image.convert("RGBA")
        return image.convert("RGB")
    except (ValueError, OSError, TypeError) as error:
        raise InvalidRequestError(
            name, f"mode {image.mode}", "must be an RGB, RGBA, greyscale, 16-bit or palette image (convert it first)"
        ) from error


def to_mask(
    name: str,
    mask: object,
    size: tuple[int, int],
    invert: bool,
    max_side: int = DEFAULT_LIMITS.max_image_side,
    allow_empty: bool = False,
) -> Image.Image | None:
    """-> binary L (255 = repaint). Transparent layers: alpha > 0 is the mask; otherwise brightness >= 128.
    An empty mask is an error, or None where `allow_empty` (outpainting: the new band is enough)."""
    mask = upright(_check_size(name, mask, max_side))
    if mask.size != size:
        raise InvalidRequestError(
            name, f"{mask.width}x{mask.height}", f"must have the image's size {size[0]}x{size[1]}"
        )
    if not isinstance(invert, bool):
        raise InvalidRequestError("invert_mask", invert, "must be True or False")
    try:
        if mask.mode == "P":
            mask = mask.convert("RGBA")
        alpha = mask.getchannel("A") if mask.mode in ("RGBA", "LA", "PA") else None
        if alpha is not None and alpha.getextrema()[0] < 255:
            binary = np.asarray(alpha) > 0
        else:
            grey = _to_8bit_grey(mask) if mask.mode.startswith("I") or mask.mode == "F" else mask.convert("L")
            binary = np.asarray(grey) >= 128
    except (ValueError, OSError, TypeError) as error:
        raise InvalidRequestError(
            name, f"mode {mask.mode}", "must be a greyscale, RGB(A) or palette image (convert it first)"
        ) from error
    if invert:
        binary = ~binary
    if not binary.any() and allow_empty:
        return None
    if not binary.any():
        raise InvalidRequestError(name, "empty mask", "must mark at least one pixel to repaint (paint over the area)")
    return Image.fromarray(binary.astype(np.uint8) * 255, mode="L")
