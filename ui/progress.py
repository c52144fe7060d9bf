"""One progress line per tab: steps, elapsed time and an ETA while a run goes; then done, cancelled or failed.

The line is an HTML component (`#<prefix>-progress`) under the tab's Generate button, so the live preview in the
gallery is never covered by an overlay. `data-state` ("idle", "running", ...) is what Esc and the tests read.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from typing import Any

IDLE = '<div class="studio-progress" data-state="idle"></div>'


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(int(round(value)), 60)
    return f"{minutes} min {seconds:02d} s"


def progress_line(state: str, text: str, fraction: float | None = None) -> str:
    bar = ""
    if fraction is not None:
        width = f"{max(0.0, min(1.0, fraction)) * 100:.0f}%"
        bar = f'<div class="studio-bar"><span style="width:{width}"></span></div>'
    role = ' role="alert"' if state in ("failed", "cancelled") else ""
    return f'<div class="studio-progress" data-state="{state}"{role}><span>{html.escape(text)}</span>{bar}</div>'


@dataclass
class RunClock:
    """Elapsed time since the click, and an ETA from the pace of the denoising steps seen so far (loading excluded)."""

    started: float = field(default_factory=time.monotonic)
    first_step_at: float | None = None
    first_step: int = 0
    step: int = 0
    total: int = 0

    def update(self, step: int, total: int) -> None:
        now = time.monotonic()
        if self.first_step_at is None or step < self.step:  # a new phase (e.g. the next tile) restarts the pace
            self.first_step_at, self.first_step = now, step
        self.step, self.total = step, total

    def __call__(self, progress: Any = None, desc: str | None = None, total: int | None = None, **_: Any) -> None:
        """Called like `gr.Progress` by the runner: `((step, total_steps), desc=..., unit=...)`."""
        if isinstance(progress, tuple) and len(progress) == 2:
            self.update(int(progress[0]), int(progress[1]))

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def eta(self) -> float | None:
        done = self.step - self.first_step
        if self.first_step_at is None or done <= 0 or self.total <= 0:
            return None
        pace = (time.monotonic() - self.first_step_at) / done
        return max(0.0, (self.total - self.step) * pace)

    def running(self) -> str:
        if self.total <= 0:
            return progress_line("running", f"Starting… {_seconds(self.elapsed())}", 0.0)
        eta = self.eta()
        left = f" · about {_seconds(eta)} left" if eta is not None else ""
        text = f"Step {self.step} of {self.total} · {_seconds(self.elapsed())}{left}"
        return progress_line("running", text, self.step / self.total)

    def done(self, images: int) -> str:
        noun = "image" if images == 1 else "images"
        return progress_line("done", f"Done: {images} {noun} in {_seconds(self.elapsed())}")


def cancelled_line() -> str:
    return progress_line("cancelled", "Cancelled · the previous result is back")


def failed_line() -> str:
    return progress_line("failed", "Stopped · the previous result is kept")
