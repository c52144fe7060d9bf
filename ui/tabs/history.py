"""History tab: the results saved in the outputs folder, newest first, with their parameters; search, send, delete.

Read from disk each time the tab opens, so it survives a reload and a restart. With logins on, a user sees and
deletes only the files in their own folder (`user_dir`); without logins everyone shares the outputs folder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ldm_core.infotext import parse_infotext, read_png_infotext

from . import history_files

logger = logging.getLogger(__name__)

SHOWN = 60  # cards per page: the newest matches
SCANNED = 1000  # files read for a search


@dataclass
class HistoryTab:
    search: gr.Textbox
    gallery: gr.Gallery
    infotext: gr.Textbox
    entries: gr.State  # [{"path", "task", "infotext"}] in gallery order
    selected: gr.State  # index into entries, or None
    send: dict[str, gr.Button]  # target tab id -> its "send to" button
    delete: gr.Button
    refresh: gr.Button
    count: gr.Markdown
    show: Callable[..., tuple]  # (query, request) -> values for `listing`; run when the tab opens
    listing: list[Any]  # gallery, entries, selected, infotext, count


def user_of(request: gr.Request | None) -> str | None:
    """The logged-in user (None without logins)."""
    return getattr(request, "username", None) or None


def matches(infotext: str, query: str) -> bool:
    """Every word of the query appears in the prompt (case-insensitive); an empty query matches all."""
    prompt = str(parse_infotext(infotext).get("Prompt", "")).lower() if infotext else ""
    return all(word in prompt for word in query.lower().split())


def caption(task: str, infotext: str) -> str:
    prompt = str(parse_infotext(infotext).get("Prompt", "")) if infotext else ""
    label = {"text2img": "text", "semantic": "map", "inpaint": "inpaint", "upscale": "×4"}.get(task, task)
    return f"{label} · {prompt[:60]}" if prompt else label


def find(outputs_dir: Path, user: str | None, query: str) -> list[dict[str, str]]:
    """The newest `SHOWN` saved results whose prompt matches `query`."""
    found = []
    for saved in history_files.list_outputs(outputs_dir, user, limit=SCANNED):
        try:
            text = read_png_infotext(saved.path) or ""
        except (OSError, ValueError, SyntaxError):  # a file being deleted, or not a PNG after all
            continue
        if matches(text, query):
            found.append({"path": str(saved.path), "task": saved.task, "infotext": text})
            if len(found) == SHOWN:
                break
    return found


def build(outputs_dir: Path | None, targets: dict[str, str]) -> HistoryTab:
    """`targets`: tab id -> label, one "send to" button each."""
    with gr.Row():
        search = gr.Textbox(
            label="Search prompts",
            placeholder="words from the prompt, e.g. lake",
            scale=4,
            elem_id="history-search",
        )
        refresh = gr.Button("Refresh", size="sm", scale=0, elem_id="history-refresh")
    count = gr.Markdown("", elem_id="history-count")
    with gr.Row():
        with gr.Column(scale=3):
            gallery = gr.Gallery(
                label="Saved results, newest first",
                columns=6,
                height=430,
                object_fit="cover",
                allow_preview=False,
                interactive=False,
                elem_id="history-gallery",
            )
        with gr.Column(scale=2):
            infotext = gr.Textbox(label="Parameters", lines=5, interactive=False, elem_id="history-infotext")
            gr.Markdown("Send the selected result (image, prompt and settings) to:")
            with gr.Row():
                send = {
                    target: gr.Button(label, size="sm", min_width=120, elem_id=f"history-to-{target}")
                    for target, label in targets.items()
                }
            delete = gr.Button("Delete", variant="stop", size="sm", elem_id="history-delete")
    entries = gr.State([])
    selected = gr.State(None)

    def show(query: str | None, request: gr.Request) -> tuple[Any, ...]:
        if outputs_dir is None:
            return [], [], None, "", "Saving is off (`--no-save`): there is no history."
        found = find(outputs_dir, user_of(request), query or "")
        gallery_value = [(item["path"], caption(item["task"], item["infotext"])) for item in found]
        if found:
            summary = f"{len(found)} result{'s' if len(found) != 1 else ''}" + (f" matching “{query}”" if query else "")
        else:
            summary = f"Nothing matches “{query}”." if query else "No saved results yet: generate something."
        return gallery_value, found, None, "", summary

    def pick(found: list[dict[str, str]], event: gr.SelectData) -> tuple[int | None, str]:
        index = event.index if isinstance(event.index, int) else None
        if index is None or index >= len(found):
            return None, ""
        return index, found[index]["infotext"]

    def remove(query: str | None, found: list[dict[str, str]], index: int | None, request: gr.Request):
        entry = chosen(found, index)
        if outputs_dir is not None:
            try:
                history_files.delete_output(outputs_dir, user_of(request), Path(entry["path"]))
            except PermissionError as error:
                raise gr.Error(str(error), print_exception=False) from error
        gr.Info(f"Deleted {Path(entry['path']).name}.")
        return show(query, request)

    listing = [gallery, entries, selected, infotext, count]
    search.submit(show, [search], listing, api_visibility="private")
    refresh.click(show, [search], listing, api_visibility="private")
    gallery.select(pick, [entries], [selected, infotext], api_visibility="private")
    delete.click(remove, [search, entries, selected], listing, api_visibility="private")
    return HistoryTab(search, gallery, infotext, entries, selected, send, delete, refresh, count, show, listing)


def chosen(found: list[dict[str, str]] | None, index: int | None) -> dict[str, str]:
    """The selected history entry; a named error when nothing is selected."""
    if not found or index is None or not 0 <= index < len(found):
        raise gr.Error("Select a result in the history first.", print_exception=False)
    return found[index]
