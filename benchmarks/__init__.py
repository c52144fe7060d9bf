"""Speed and memory of every task, through the engine and side by side with bare diffusers (see BENCHMARKS.md)."""
