"""The errors a user can see. Every message says what was wrong and what to do about it."""

from __future__ import annotations


class StudioError(Exception):
    """Base class: `str(error)` is a complete, user-facing sentence."""


class InvalidRequestError(StudioError, ValueError):
    """A request field is out of its rules: names the field, the value and the fix."""

    def __init__(self, field: str, value: object, rule: str):
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{field}: {rule} (got {shown})")
        self.field, self.value, self.rule = field, value, rule

    def __reduce__(self) -> tuple:
        """Pickles with its three fields (the default would call it with the message alone), so it can cross
        processes, e.g. from an engine replica to the app."""
        return type(self), (self.field, self.value, self.rule)


class ModelNotAvailableError(StudioError):
    """A model can't be loaded (offline, missing or corrupt files); says what is missing and how to get it."""


class OutOfMemoryError(StudioError):
    """The device ran out of memory; memory was freed, and the message suggests a memory mode."""


class CancelledError(StudioError):
    """The user cancelled the run; nothing was saved."""
