"""A1111-compatible generation parameters ("infotext"), stored in each PNG's `parameters` text chunk.

Layout: the prompt (any number of lines), an optional `Negative prompt: ...` line, then one line of
`Key: value` pairs separated by ", "; values holding a comma, colon or quote are JSON-quoted, as A1111 does.

Where that layout cannot hold a prompt exactly (a prompt line that starts with "Negative prompt:", leading or
trailing blanks), the writer also stores it JSON-quoted as `Prompt text` / `Negative prompt text`, which the reader
prefers: `parse_infotext(format_infotext(p, n, params))` gives back `p` and `n` exactly, whatever they hold.

Reading is linear in the text (a hand-written scanner, no backtracking pattern) and bounded: files are read only up
to `MAX_INFOTEXT_CHARS`, and what was cut is reported (`StoredInfotext.cut_chars`).
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from PIL import Image

PNG_KEY = "parameters"
NEGATIVE_PREFIX = "Negative prompt:"
PROMPT_KEY, NEGATIVE_KEY = "Prompt text", "Negative prompt text"
MAX_INFOTEXT_CHARS = 64 * 1024  # far past any studio infotext (prompts are capped at a few thousand characters)
MAX_PNG_CHUNKS = 10_000  # chunks looked at before giving up on finding the text
_MIN_PARAMS = 3  # a last line with fewer pairs is part of the prompt (A1111's rule)
_KEY_CHARS = frozenset(" -/+_")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_CHUNKS = {b"tEXt", b"zTXt", b"iTXt"}


@dataclass(frozen=True)
class StoredInfotext:
    text: str
    cut_chars: int = 0  # characters (or bytes, for compressed chunks: at least that many) not read past the cap

    @property
    def note(self) -> str | None:
        """A sentence saying what was cut, or None."""
        if not self.cut_chars:
            return None
        return (
            f"The stored parameters were {self.cut_chars:,} characters longer than the "
            f"{MAX_INFOTEXT_CHARS:,} read; only the beginning is shown."
        )


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
    if len(text) <= 40:  # int("9" * 10**6) is quadratic; no parameter is a number that long
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
    return text


def _reads_back(prompt: str) -> bool:
    """Whether the plain layout returns `prompt` unchanged."""
    lines = prompt.split("\n")
    return prompt == prompt.strip() and not any(line.startswith(NEGATIVE_PREFIX) for line in lines)


def _negative_reads_back(negative: str) -> bool:
    """Whether the plain `Negative prompt:` line returns `negative` unchanged (the reader strips its first line)."""
    first = negative.split("\n", 1)[0]
    return negative == negative.strip() and first == first.strip()


def format_infotext(prompt: str, negative_prompt: str, params: dict[str, Any]) -> str:
    """Prompt line(s), `Negative prompt:` line (if any), then `Steps: 20, Sampler: DDIM, ...` (None values skipped)."""
    lines = [prompt]
    if negative_prompt:
        lines.append(f"{NEGATIVE_PREFIX} {negative_prompt}")
    exact = {}
    if not _reads_back(prompt):
        exact[PROMPT_KEY] = json.dumps(prompt, ensure_ascii=False)
    if negative_prompt and not _negative_reads_back(negative_prompt):
        exact[NEGATIVE_KEY] = json.dumps(negative_prompt, ensure_ascii=False)
    pairs = [f"{key}: {_quote(value)}" for key, value in params.items() if value is not None]
    pairs += [f"{key}: {value}" for key, value in exact.items()]
    lines.append(", ".join(pairs))
    return "\n".join(lines)


def parse_params(line: str) -> list[tuple[str, str]]:
    """`Key: value, Key: "quoted, value", ...` -> [(key, raw value)], in one left-to-right pass (linear time).

    Keys are word characters, spaces, `-`, `/`, `+`; a stretch whose key has other characters is skipped up to the
    next comma (as A1111's `findall` skips what its pattern does not match).
    """
    pairs: list[tuple[str, str]] = []
    index, length = 0, len(line)
    colon = comma = -1  # the next ':' and ',' at or after `index`, each found once per position (linear overall)
    while index < length:
        while index < length and line[index] == " ":
            index += 1
        if colon < index:
            colon = line.find(":", index)
        if colon == -1:
            break
        if comma < index:
            comma = line.find(",", index)
        if 0 <= comma < colon:  # no key before the next comma: skip that stretch
            index = comma + 1
            continue
        key = line[index:colon]
        if (
            not key
            or not (key[0].isalnum() or key[0] == "_")
            or not all(ch.isalnum() or ch in _KEY_CHARS for ch in key)
        ):
            if comma == -1:
                break
            index = comma + 1
            continue
        index = colon + 1
        while index < length and line[index] == " ":
            index += 1
        if index < length and line[index] == '"':
            end = index + 1
            while end < length and line[end] != '"':
                end += 2 if line[end] == "\\" else 1
            end = min(end + 1, length)
            value = line[index:end]
            comma = line.find(",", end)
            index = length if comma == -1 else comma + 1
        else:
            if comma < index:
                comma = line.find(",", index)
            end = length if comma == -1 else comma
            value = line[index:end]
            index = end + 1
        pairs.append((key.strip(), value))
    return pairs


def parse_infotext(text: str) -> dict[str, Any]:
    """Inverse of format_infotext (also reads A1111's files): {"Prompt", "Negative prompt", "Steps": 20, ...}.

    Numbers come back as int or float; "Size" stays a "WxH" string. Linear in the length of `text`.
    """
    lines = text.strip().split("\n")
    params: dict[str, Any] = {}
    if lines:
        pairs = parse_params(lines[-1])
        if len(pairs) >= _MIN_PARAMS:
            lines.pop()
            params = {key: _unquote(value) for key, value in pairs}
    prompt_lines: list[str] = []
    negative_lines: list[str] = []
    for line in lines:
        if line.startswith(NEGATIVE_PREFIX) and not negative_lines:
            negative_lines.append(line[len(NEGATIVE_PREFIX) :].strip())
        elif negative_lines:
            negative_lines.append(line)
        else:
            prompt_lines.append(line)
    prompt = "\n".join(prompt_lines).strip()
    negative = "\n".join(negative_lines).strip()
    if isinstance(params.get(PROMPT_KEY), str):  # the exact text, where the plain layout could not hold it
        prompt = params.pop(PROMPT_KEY)
        if not negative_lines:
            negative = ""
        elif NEGATIVE_KEY not in params:  # the plain split went wrong: the negative is what follows the prompt
            negative = _negative_after(text, prompt)
    if isinstance(params.get(NEGATIVE_KEY), str):
        negative = params.pop(NEGATIVE_KEY)
    return {"Prompt": prompt, "Negative prompt": negative, **params}


def _negative_after(text: str, prompt: str) -> str:
    """The negative prompt of a file whose prompt is known exactly: the text between the prompt and the last line."""
    rest = text[len(prompt) :] if text.startswith(prompt) else ""
    body = rest.strip("\n").rsplit("\n", 1)[0] if "\n" in rest.strip("\n") else ""
    return body[len(NEGATIVE_PREFIX) :].strip() if body.startswith(NEGATIVE_PREFIX) else ""


def _text_of(kind: bytes, data: bytes, cap: int) -> tuple[str, str, int] | None:
    """(keyword, text up to `cap` characters, characters cut) of a PNG text chunk; None if malformed."""
    keyword, sep, rest = data.partition(b"\0")
    if not sep:
        return None
    name = keyword.decode("latin-1")
    if kind == b"tEXt":
        raw, encoding = rest, "latin-1"
    elif kind == b"zTXt":
        raw, encoding = rest[1:], "latin-1"
        raw, cut_bytes = _inflate(raw, cap)
        return name, raw.decode(encoding, "replace")[:cap], cut_bytes
    else:  # iTXt: flag, method, language\0, translated keyword\0, text
        if len(rest) < 2:
            return None
        compressed = rest[0] == 1
        fields = rest[2:].split(b"\0", 2)
        if len(fields) < 3:
            return None
        raw, encoding = fields[2], "utf-8"
        if compressed:
            raw, cut_bytes = _inflate(raw, cap * 4)
            text = raw.decode(encoding, "replace")
            return name, text[:cap], max(cut_bytes, len(text) - cap, 0)
    text = raw.decode(encoding, "replace")
    return name, text[:cap], max(len(text) - cap, 0)


def _inflate(raw: bytes, cap: int) -> tuple[bytes, int]:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(raw, cap)
    except zlib.error:
        return b"", 0
    return out, len(inflater.unconsumed_tail)  # compressed bytes left: the text cut is at least this long


def _read_png_text(stream: BinaryIO, cap: int) -> StoredInfotext | None:
    """Walk the PNG's chunks (headers only, skipping data) to its `parameters` text; read at most ~`cap` of it."""
    if stream.read(8) != _PNG_SIGNATURE:
        return None
    for _ in range(MAX_PNG_CHUNKS):
        header = stream.read(8)
        if len(header) < 8:
            return None
        length, kind = struct.unpack(">I4s", header)
        if kind == b"IEND":
            return None
        if kind in _TEXT_CHUNKS:
            keyword_and_more = stream.read(min(length, 80))  # a keyword is at most 79 bytes
            if keyword_and_more.split(b"\0", 1)[0] == PNG_KEY.encode():
                limit = cap * 4 + 160  # utf-8 characters are at most 4 bytes; the compressed form is read whole
                data = keyword_and_more + stream.read(min(length, limit) - len(keyword_and_more))
                if kind != b"tEXt":
                    data += stream.read(length - len(data))  # compressed: inflated up to the cap below
                parsed = _text_of(kind, data, cap)
                if parsed is None:
                    return None
                _, text, cut = parsed
                if kind == b"tEXt":
                    cut = max(cut, length - len(data))
                return StoredInfotext(text, cut)
            stream.seek(length - len(keyword_and_more) + 4, 1)
        else:
            stream.seek(length + 4, 1)
    return None


def read_infotext(source: Image.Image | str | Path, cap: int = MAX_INFOTEXT_CHARS) -> StoredInfotext | None:
    """The `parameters` text of a PNG file or image, at most `cap` characters (None when absent)."""
    if isinstance(source, Image.Image):
        text = source.info.get(PNG_KEY)
        if not isinstance(text, str):
            return None
        return StoredInfotext(text[:cap], max(len(text) - cap, 0))
    with open(source, "rb") as stream:
        if stream.read(len(_PNG_SIGNATURE)) == _PNG_SIGNATURE:
            stream.seek(0)
            return _read_png_text(stream, cap)
    with Image.open(source) as image:  # not a PNG: whatever Pillow found while opening it
        return read_infotext(image, cap)


def read_png_infotext(image_or_path: Image.Image | str | Path) -> str | None:
    """The `parameters` text of a PNG (None when absent), at most `MAX_INFOTEXT_CHARS` characters."""
    found = read_infotext(image_or_path)
    return None if found is None else found.text
