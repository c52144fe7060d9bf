"""The built-in text model knows a fixed list of words: show them as chips that add themselves to the prompt, and
a placeholder made of words it knows. Models with an open vocabulary (CLIP) get a plain placeholder and no chips."""

from __future__ import annotations

import html
import logging
from typing import Any

from ldm_core.vocabulary import prompt_vocabulary as vocabulary_of

logger = logging.getLogger(__name__)

PLACEHOLDERS = (  # the first one the model can read is shown
    "a lake with mountains and trees on a sunny day",
    "a green valley with a river, golden hour photo",
)
OPEN_VOCABULARY_PLACEHOLDER = "a green valley with a river at golden hour, photo"


def prompt_vocabulary(engine: Any) -> list[str] | None:
    """The word list of the engine's text model (None: any words, or an engine without a config)."""
    config = getattr(engine, "config", None)
    if config is None:
        return None
    try:
        return vocabulary_of(config)
    except Exception:
        logger.exception("could not read the prompt vocabulary")
        return None


def placeholder(words: list[str] | None) -> str:
    if not words:
        return OPEN_VOCABULARY_PLACEHOLDER
    known = set(words)
    for text in PLACEHOLDERS:
        if all(word in known for word in text.replace(",", " ").split()):
            return text
    return "click the words below to build a prompt"


def words_html(target_id: str, words: list[str]) -> str:
    """Clickable chips (studio.js appends the word to `#<target_id> textarea`)."""
    chips = "".join(
        f'<button type="button" class="studio-word" data-word="{html.escape(w)}">{html.escape(w)}</button>'
        for w in words
    )
    intro = f"<small>The built-in text model knows these {len(words)} words (others are ignored); click to add:</small>"
    return f'{intro}<div class="studio-words" data-target="{html.escape(target_id)}">{chips}</div>'
