"""Errors while gradio reads an input (a corrupt upload, a decompression bomb, a value out of a slider's range, a
sampler not in the list) name the request field, the value and the fix, like the engine's own errors.

Gradio decodes uploads and checks ranges before a handler runs, and shows only `gr.Error` messages; so each studio
input's `preprocess` is wrapped once, on the instance, after the UI is built. (A component replaced by a `gr.update`
in a session would lose the wrapper; the studio's handlers return values, never component updates.)
"""

from __future__ import annotations

import math
import types
from typing import Any

import gradio as gr
from PIL import Image

from ldm_core.errors import InvalidRequestError
from ldm_core.limits import Limits
from ldm_core.validation import image_file_error

# elem_id suffix (after the tab prefix) -> the request field it fills
FIELDS = {
    "prompt": "prompt",
    "negative": "negative_prompt",
    "sampler": "scheduler",
    "steps": "num_inference_steps",
    "guidance": "guidance_scale",
    "seed": "seed",
    "batch": "batch_size",
    "width": "width",
    "height": "height",
    "strength": "strength",
    "mask-blur": "mask_blur",
    "invert": "invert_mask",
    "only-masked": "only_masked",
    "padding": "only_masked_padding",
    "tile-size": "tile_size",
    "tile-overlap": "tile_overlap",
    "input": "image",
    "image": "image",
}
EDITOR_FIELDS = {"inpaint-editor": "image", "semantic-editor": "color_map"}
IMAGE_TYPES = (gr.Image, gr.ImageEditor)
NUMBER_TYPES = (gr.Slider, gr.Number)
WRAPPED = "_studio_named_errors"


def field_of(component: Any) -> str | None:
    """The request field an input fills, from its elem_id ("txt2img-steps" -> "num_inference_steps")."""
    elem_id = getattr(component, "elem_id", None) or ""
    if elem_id in EDITOR_FIELDS:
        return EDITOR_FIELDS[elem_id]
    _, _, suffix = elem_id.partition("-")
    return FIELDS.get(suffix)


MAX_MESSAGE_CHARS = 300  # an error quotes at most this much (a 1 MB value is not echoed back)


def excerpt(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else f"{text[: limit - 40]}... ({len(text):,} characters in all)"


def _sentence(message: str) -> str:
    return excerpt(message[:1].lower() + message[1:]) if message else "was refused"


def _check_number(field: str, component: Any, payload: Any) -> None:
    """Refuse what a slider or number box could never send: text, NaN, infinity, nothing at all (sliders)."""
    if payload is None and isinstance(component, gr.Number):
        return
    if isinstance(payload, bool) or not isinstance(payload, int | float) or not math.isfinite(payload):
        low, high = getattr(component, "minimum", None), getattr(component, "maximum", None)
        span = f" between {low:g} and {high:g}" if low is not None and high is not None else ""
        raise InvalidRequestError(field, payload, f"must be a finite number{span}")
    step = getattr(component, "step", None)
    whole = getattr(component, "precision", None) == 0 or (
        isinstance(component, gr.Slider) and isinstance(step, int | float) and step >= 1 and float(step).is_integer()
    )
    if whole and payload is not None and not float(payload).is_integer():  # width=0.5 is not "native size"
        raise InvalidRequestError(field, payload, "must be a whole number")


def named_preprocess(component: Any, field: str, limits: Limits) -> Any:
    original = component.preprocess

    def preprocess(self: Any, payload: Any) -> Any:
        try:
            if isinstance(self, NUMBER_TYPES):
                _check_number(field, self, payload)
            return original(payload)
        except InvalidRequestError as error:
            raise gr.Error(str(error), print_exception=False) from error
        except gr.Error as error:
            raise gr.Error(f"{field}: {_sentence(str(error.message))}", print_exception=False) from error
        except (OSError, SyntaxError, ValueError, TypeError, Image.DecompressionBombError) as error:
            if isinstance(self, IMAGE_TYPES):
                named = image_file_error(field, error, limits)
            else:
                named = InvalidRequestError(field, payload, f"is not a value this {type(self).__name__} accepts")
            raise gr.Error(str(named), print_exception=False) from error

    return types.MethodType(preprocess, component)


def name_input_errors(blocks: gr.Blocks, limits: Limits | None = None) -> int:
    """Wrap every studio input's preprocess (once); returns how many inputs were wrapped."""
    limits = limits or Limits()
    wrapped = 0
    for block in blocks.blocks.values():
        if not isinstance(block, gr.components.Component) or getattr(block, WRAPPED, False):
            continue
        field = field_of(block)
        if field is None:
            continue
        block.preprocess = named_preprocess(block, field, limits)
        setattr(block, WRAPPED, True)
        wrapped += 1
    return wrapped
