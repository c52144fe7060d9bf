"""The task registry: every task is declared once, here, and every other place reads it.

The engine dispatches a request by its type (`task_for`), validates it with the entry's `check` and runs the entry's
recipe; presets, the built-in family's folders, the status line, the UI's tabs and PNG-info's "send to its tab" all
iterate `TASKS`. A task's `name` is its one id: the API name, the tab id (`#tab-<name>`), the `Task:` value written
into infotext, its outputs folder and its key in a preset.

Adding a task (say `img2img`) is one new module plus one entry:
1. `ldm_core/tasks/img2img.py`: a frozen request dataclass (subclass of `GenerationRequest`), `check(request, limits)`
   returning `CheckedInputs` (named errors; helpers in `validation`), and `run(request, inputs, context)` returning a
   `TaskOutput`, over the shared stages in `tasks/common.py`;
2. its UI tab, `ui/tabs/img2img.py`, with `build(runner, limits)` (see `ui/tabs/text2img.py`);
3. one `TaskSpec` below. A task the built-in family serves names its UNet folder and how its pipeline is assembled
   around the family's shared components (`family_pipeline`); presets that have a model for it list its source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .limits import Limits
from .requests import GenerationRequest, InpaintRequest, SemanticMapRequest, TextToImageRequest, UpscaleRequest
from .tasks import inpaint, semantic, text2img, upscale
from .tasks.common import FamilyParts, RunContext, TaskOutput
from .validation import CheckedInputs, check_inpaint, check_semantic_map, check_text_to_image, check_upscale


@dataclass(frozen=True)
class TaskSpec:
    name: str  # the one id (API name, tab id, infotext `Task:`, outputs folder, preset key)
    label: str  # how the status line names it
    tab_label: str  # the tab's title
    request: type[GenerationRequest]
    check: Callable[[Any, Limits], CheckedInputs]  # named errors; the inputs converted for the recipe
    run: Callable[[Any, CheckedInputs, RunContext], TaskOutput]  # the recipe
    tab: str  # the module that builds its UI tab: named, not imported (the core has no UI imports)
    family_unet: str | None = None  # the built-in family's UNet folder (None: the family has no model for it)
    family_pipeline: Callable[[FamilyParts], Any] | None = None  # the pipeline around the family's components
    text_conditioned: bool = False  # the family's UNet reads the prompt by cross-attention (UNet2DConditionModel)


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec(
            "text2img",
            "text-to-image",
            "Text-to-image",
            TextToImageRequest,
            check_text_to_image,
            text2img.run,
            "ui.tabs.text2img",
            family_unet="unet",
            family_pipeline=text2img.family_pipeline,
            text_conditioned=True,
        ),
        TaskSpec(
            "semantic",
            "semantic map",
            "Semantic map",
            SemanticMapRequest,
            check_semantic_map,
            semantic.run,
            "ui.tabs.semantic",
            family_unet="unet_semantic",
            family_pipeline=semantic.family_pipeline,
        ),
        TaskSpec(
            "inpaint",
            "inpainting",
            "Inpainting",
            InpaintRequest,
            check_inpaint,
            inpaint.run,
            "ui.tabs.inpaint",
            family_unet="unet_inpaint",
            family_pipeline=inpaint.family_pipeline,
            text_conditioned=True,
        ),
        TaskSpec(
            "upscale",
            "super-resolution ×4",
            "Super-resolution",
            UpscaleRequest,
            check_upscale,
            upscale.run,
            "ui.tabs.upscale",
            family_unet="unet_upscale",
            family_pipeline=upscale.family_pipeline,
        ),
    )
}
TASK_BY_REQUEST: dict[type, TaskSpec] = {spec.request: spec for spec in TASKS.values()}
FAMILY_TASKS: tuple[str, ...] = tuple(name for name, spec in TASKS.items() if spec.family_unet is not None)


def task_for(request: object) -> TaskSpec | None:
    """The entry whose request type `request` is (exactly: a subclass is a different task), or None."""
    return TASK_BY_REQUEST.get(type(request))
