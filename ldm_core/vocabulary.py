"""The words a word-level prompt tokenizer knows (the built-in family's); subword tokenizers (CLIP BPE) have no list."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .config import EngineConfig
from .presets import resolve_preset

logger = logging.getLogger(__name__)

TOKENIZER_FILE = Path("tokenizer") / "tokenizer.json"


def word_vocabulary(model_folder: str | Path | None) -> list[str] | None:
    """Sorted known words from `<folder>/tokenizer/tokenizer.json` when it is a WordLevel tokenizer, else None.

    Special tokens (`<pad>`, `<unk>`, ...) are left out; a missing or unreadable file is None, never an error.
    """
    if model_folder is None:
        return None
    path = Path(model_folder) / TOKENIZER_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        logger.warning("could not read the tokenizer at %s", path, exc_info=True)
        return None
    model = data.get("model") or {}
    if model.get("type") != "WordLevel" or not isinstance(model.get("vocab"), dict):
        return None
    special = {str(token.get("content")) for token in data.get("added_tokens") or []} | {model.get("unk_token")}
    return sorted(word for word in model["vocab"] if word not in special and not word.startswith("<"))


def prompt_vocabulary(config: EngineConfig) -> list[str] | None:
    """The words the text-to-image model of `config` knows, when it is the built-in family's (else None)."""
    try:
        preset = resolve_preset(config.preset, config.model_root, config.sources)
    except ValueError:
        return None
    text = preset.tasks.get("text2img")
    return word_vocabulary(text.source) if text is not None and text.kind == "family" else None
