"""Presets are data: for each task, how its pipeline is assembled (`kind`) and where the weights come from (`source`).

A source is a hub id, a local diffusers folder or a single .safetensors file; `EngineConfig.sources` overrides it per
task (the kind stays). Tasks missing from a preset are simply unavailable there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from .registry import FAMILY_TASKS, TASKS

DEFAULT_BUILTIN_ROOT = Path("assets/builtin")
SD15 = "stable-diffusion-v1-5/stable-diffusion-v1-5"
SD15_INPAINT = "stable-diffusion-v1-5/stable-diffusion-inpainting"
SD15_CONTROLNET_SEG = "lllyasviel/control_v11p_sd15_seg"
LDM_SUPERRES = "CompVis/ldm-super-resolution-4x-openimages"
LDM_TEXT = "CompVis/ldm-text2im-large-256"
BUILTIN_ROOT_TOKEN = "<model_root>"


@dataclass(frozen=True)
class TaskSource:
    """`kind`: family (built-in folder), sd, sd_inpaint, sd_controlnet, ldm_text, ldm_superres."""

    kind: str
    source: str


PRESETS: dict[str, dict[str, TaskSource]] = {
    "builtin": {task: TaskSource("family", BUILTIN_ROOT_TOKEN) for task in FAMILY_TASKS},
    "sd15": {
        "text2img": TaskSource("sd", SD15),
        "inpaint": TaskSource("sd_inpaint", SD15_INPAINT),
        "semantic": TaskSource("sd_controlnet", SD15_CONTROLNET_SEG),
        "upscale": TaskSource("ldm_superres", LDM_SUPERRES),
    },
    "ldm-paper": {
        "text2img": TaskSource("ldm_text", LDM_TEXT),
        "upscale": TaskSource("ldm_superres", LDM_SUPERRES),
    },
}


@dataclass(frozen=True)
class ResolvedPreset:
    name: str
    tasks: dict[str, TaskSource]
    base: str | None  # where the shared components come from: the family root, or the sd text-to-image source


def resolve_preset(name: str, model_root: Path | str | None, sources: dict[str, str] | None) -> ResolvedPreset:
    """Fill in the family root and the per-task overrides; unknown names raise ValueError (checked by the engine)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    unknown = sorted(set(sources or {}) - set(TASKS))
    if unknown:
        raise ValueError(f"sources names unknown task(s) {', '.join(unknown)}; tasks are {', '.join(TASKS)}")
    root = str(Path(model_root if model_root is not None else DEFAULT_BUILTIN_ROOT).expanduser().absolute())
    tasks = {}
    for task, spec in PRESETS[name].items():
        source = (sources or {}).get(task, spec.source)
        tasks[task] = replace(spec, source=root if source == BUILTIN_ROOT_TOKEN else str(source))
    for task in set(sources or {}) - set(tasks):
        raise ValueError(f"preset {name} has no {task} model to override")
    if name == "builtin":
        base = root
    else:
        base = tasks["text2img"].source if tasks.get("text2img", TaskSource("", "")).kind == "sd" else None
    return ResolvedPreset(name, tasks, base)
