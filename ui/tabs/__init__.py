"""One module per tab; each `build(...)` lays out its tab inside the caller's `gr.Tab` and wires its own events."""
