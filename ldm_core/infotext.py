"""A1111-compatible generation parameters ("infotext"), stored in each PNG's `parameters` text chunk.

Layout: the prompt (any number of lines), an optional `Negative prompt: ...` line, then one line of
`Key: value` pairs separated by ", "; values holding a comma, colon or quote are JSON-quoted, as A1111 does.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from PIL import Image

PNG_KEY = "parameters"
NEGATIVE_PREFIX = "Negative prompt:"
_PARAM = re.compile(r'\s*([\w][\w \-/+]*):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')
_MIN_PARAMS = 3  # a last line with fewer pairs is part of the prompt (A1111's rule)


def _quote(value: Any) -> str:
    text = str(value)
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    if any(ch in text for ch in ',:"\n'):
        return json.dumps(text, ensure_ascii=False)
    return text


def _unquote(text: str) -> Any:
    text = text.strip()
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def format_infotext(prompt: str, negative_prompt: str, params: dict[str, Any]) -> str:
    """Prompt line(s), `Negative prompt:` line (if any), then `Steps: 20, Sampler: DDIM, ...` (None values skipped)."""
    lines = [prompt]
    if negative_prompt:
        lines.append(f"{NEGATIVE_PREFIX} {negative_prompt}")
    lines.append(", ".join(f"{key}: {_quote(value)}" for key, value in params.items() if value is not None))
    return "\n".join(lines)


def parse_infotext(text: str) -> dict[str, Any]:
    """Inverse of format_infotext (also reads A1111's files): {"Prompt", "Negative prompt", "Steps": 20, ...}.

    Numbers come back as int or float; "Size" stays a "WxH" string.
    """
    lines = text.strip().split("\n")
    params: dict[str, Any] = {}
    if lines and len(_PARAM.findall(lines[-1])) >= _MIN_PARAMS:
        params = {key.strip(): _unquote(value) for key, value in _PARAM.findall(lines.pop())}
    prompt_lines: list[str] = []
    negative_lines: list[str] = []
    for line in lines:
        if line.startswith(NEGATIVE_PREFIX) and not negative_lines:
            negative_lines.append(line[len(NEGATIVE_PREFIX) :].strip())
        elif negative_lines:
            negative_lines.append(line)
        else:
            prompt_lines.append(line)
    return {"Prompt": "\n".join(prompt_lines).strip(), "Negative prompt": "\n".join(negative_lines).strip(), **params}


def read_png_infotext(image_or_path: Image.Image | str | Path) -> str | None:
    """The `parameters` text of a PNG (None when absent)."""
    if isinstance(image_or_path, Image.Image):
        return image_or_path.info.get(PNG_KEY)
    with Image.open(image_or_path) as image:
        return image.info.get(PNG_KEY)
