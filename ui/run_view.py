"""How a run looks in the browser: one progress line, stale results cleared at the start, the previous result back
after a cancel or an error, and no error badges.

Each generating tab registers two listeners over the same handler: the public API endpoint (its outputs unchanged,
on a hidden trigger) and the browser's Generate button, whose wrapper (`browser_handler`) adds the progress line and
remembers what was on screen. The browser listener hides gradio's own progress overlay (`show_progress="hidden"`):
the live preview stays visible and a failed run leaves no "Error" badges on the outputs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr

from .progress import IDLE, RunClock, cancelled_line, failed_line, progress_line
from .runner import EngineRunner, session_of

INJECTED = ("request", "progress")
STALE = {1: None, 2: ""}  # output index -> value at the start of a run: "Seed used" and "Parameters" of the last one
ACTIVE_STATES = ('data-state="queued"', 'data-state="running"')


@dataclass
class RunView:
    progress: gr.HTML  # `#<prefix>-progress`
    shown: gr.State  # the outputs of the last finished run: restored after a cancel or an error


def run_view(prefix: str) -> RunView:
    """The progress line (placed where this is called, under the Generate button) and the remembered result."""
    progress = gr.HTML(
        IDLE, elem_id=f"{prefix}-progress", elem_classes="studio-progress-box", container=False, padding=False
    )
    return RunView(progress, gr.State(None))


def is_active(line: str | None) -> bool:
    return any(state in (line or "") for state in ACTIVE_STATES)


def browser_handler(handler: Callable, empty: Sequence[Any]) -> Callable:
    """`handler` (yielding or returning its outputs) for the browser: its outputs + [progress line, shown].

    `empty`: the outputs before any run (restored when the first run is cancelled or fails).
    """
    names = [name for name in inspect.signature(handler).parameters if name not in INJECTED]
    width = len(empty)

    def run(*args: Any) -> Iterator[tuple]:
        *values, shown, request = args
        restore = tuple(shown) if shown else tuple(empty)
        clock = RunClock()
        yield (*(STALE.get(i, gr.skip()) for i in range(width)), clock.running(), gr.skip())
        last: tuple | None = None
        try:
            outcome = handler(**dict(zip(names, values, strict=True)), request=request, progress=clock)
            for outputs in outcome if inspect.isgenerator(outcome) else [outcome]:
                last = tuple(outputs)
                yield (*last, clock.running(), gr.skip())
        except gr.Error as error:
            if error.title == "Cancelled":
                yield (*restore, cancelled_line(), gr.skip())
                return
            yield (*restore, failed_line(), gr.skip())
            raise
        if last is not None:
            count = len(last[0]) if isinstance(last[0], list) else 1
            yield (*(gr.skip() for _ in range(width)), clock.done(count), last)

    parameters = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in [*names, "shown"]]
    parameters.append(inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=gr.Request))
    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {"request": gr.Request}  # gradio finds what to inject through the type hints
    run.__name__ = f"{handler.__name__}_in_browser"
    return run


def wire_run(
    generate: gr.Button,
    cancel: gr.Button,
    runner: EngineRunner,
    handler: Callable,
    inputs: list[Any],
    outputs: list[Any],
    view: RunView,
    api_name: str,
    empty: Sequence[Any],
    queue: dict[str, Any],
) -> Any:
    """Generate (browser), the `api_name` endpoint (a hidden trigger, same handler), Cancel; returns the browser run."""
    gr.Button(visible=False, elem_id=f"{api_name}-api").click(handler, inputs, outputs, api_name=api_name, **queue)

    def waiting(line: str) -> tuple:
        if is_active(line):  # a second click while running: the run itself ignores it, so does this
            return (gr.skip(),) * 3
        return progress_line("queued", "Waiting for the engine…", 0.0), None, ""

    generate.click(
        waiting,
        [view.progress],
        [view.progress, outputs[1], outputs[2]],
        queue=False,
        show_progress="hidden",
        api_visibility="private",
    )
    run = generate.click(
        browser_handler(handler, empty),
        [*inputs, view.shown],
        [*outputs, view.progress, view.shown],
        api_visibility="private",
        show_progress="hidden",
        **queue,
    )

    def stop(line: str, shown: Any, request: gr.Request) -> tuple:
        """Cancel this session's run; the previous result and "Cancelled" show at once (the run may be queued)."""
        runner.cancel(session_of(request))
        if not is_active(line):
            return (gr.skip(),) * (len(outputs) + 1)
        return (*(tuple(shown) if shown else tuple(empty)), cancelled_line())

    cancel.click(
        stop,
        [view.progress, view.shown],
        [*outputs, view.progress],
        queue=False,
        cancels=[run],
        show_progress="hidden",
        api_visibility="private",
    )
    return run
