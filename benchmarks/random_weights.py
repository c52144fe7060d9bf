"""Full-size models with random weights, built fast: modules are made on the meta device from their published configs,
given uninitialised fp16 storage, and filled by copying from one small random pool (no per-weight initialiser runs).

Values are only meant to keep activations finite and of unit scale: 1-D weights (norm scales) are 1, biases 0, every
other tensor is pool noise scaled by 1/sqrt(fan-in). Speed, memory, shapes and loading do not depend on them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

POOL_SIZE = 1 << 22
_POOL: torch.Tensor | None = None


def _pool() -> torch.Tensor:
    global _POOL
    if _POOL is None:
        generator = torch.Generator().manual_seed(0)
        _POOL = torch.randn(POOL_SIZE, generator=generator)
    return _POOL


def fill_(tensor: torch.Tensor, name: str, offset: int) -> None:
    """Deterministic values for `tensor` (see the module docstring); `offset` varies the pool window per tensor."""
    if not tensor.is_floating_point():
        if name.endswith("position_ids"):
            tensor.copy_(torch.arange(tensor.shape[-1]).expand_as(tensor))
        else:
            tensor.zero_()
        return
    if tensor.ndim == 1 and name.endswith("weight"):
        tensor.fill_(1.0)
        return
    if name.endswith("bias"):
        tensor.zero_()
        return
    flat = tensor.view(-1)
    pool = _pool()
    scale = 1.0 / math.sqrt(max(1, flat.numel() // tensor.shape[0])) if tensor.ndim > 1 else 0.02
    start = offset % POOL_SIZE
    done = 0
    while done < flat.numel():
        count = min(flat.numel() - done, POOL_SIZE - start)
        flat[done : done + count].copy_(pool[start : start + count])
        done, start = done + count, 0
    flat.mul_(scale)


def materialise(module: torch.nn.Module, dtype: torch.dtype = torch.float16) -> torch.nn.Module:
    """Give a meta-device module real (CPU, `dtype`) storage and fill every parameter and buffer."""
    module = module.to(dtype).to_empty(device="cpu")
    with torch.no_grad():
        for index, (name, tensor) in enumerate([*module.named_parameters(), *module.named_buffers()]):
            fill_(tensor, name, offset=index * 7919)
    return module.eval()


def read_config(folder: Path) -> dict[str, Any]:
    """A component's config.json (or scheduler_config.json), minus the bookkeeping keys."""
    name = "scheduler_config.json" if (folder / "scheduler_config.json").exists() else "config.json"
    config = json.loads((folder / name).read_text())
    return {key: value for key, value in config.items() if not key.startswith("_")}


def diffusers_model(cls: Any, folder: Path, **overrides: Any) -> torch.nn.Module:
    """A diffusers model class from its config folder, random fp16 weights."""
    with torch.device("meta"):
        module = cls.from_config(read_config(folder) | overrides)
    return materialise(module)


def transformers_model(cls: Any, config_cls: Any, folder: Path, **overrides: Any) -> torch.nn.Module:
    """A transformers model class from its config folder, random fp16 weights."""
    config = config_cls(**(read_config(folder) | overrides))
    with torch.device("meta"):
        module = cls(config)
    return materialise(module)


def parameter_count(module: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())
