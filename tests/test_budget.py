"""The work budget: a request's seconds on this device are estimated before it runs; past the cap it is refused
with WorkBudgetError saying what fits, and every alternative it names does fit. Runs update the estimate. A request
with the x4 cascade counts both passes, and each pass's time updates its own task's estimate."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from ldm_core.budget import Work, WorkBudget, WorkBudgetError
from ldm_core.limits import Limits
from ldm_core.requests import TextToImageRequest


def work(task="text2img", side=1024, steps=150, batch=8) -> Work:
    return Work(task, side * side / 1e6, steps, batch, (side, side))


def test_an_hours_long_request_is_refused_saying_what_fits():
    budget = WorkBudget(max_seconds=60)
    with pytest.raises(WorkBudgetError) as caught:
        budget.check(work(side=2048, steps=150, batch=8))
    message = str(caught.value)
    assert "size 2048x2048" in message and "at most 60 s" in message and "What fits" in message
    size = re.search(r"size about (\d+)x(\d+) at 150 steps and batch 8", message)
    assert size is not None
    side = int(size.group(1))
    assert budget.seconds(work(side=side, steps=150, batch=8)) <= 60  # the advice is true


def test_every_alternative_named_fits():
    budget = WorkBudget(max_seconds=60)
    request = work(side=512, steps=40, batch=8)
    message = budget.what_fits(request)
    steps = int(re.search(r"at most (\d+) steps", message).group(1))
    batch = int(re.search(r"batch (\d+) at these settings", message).group(1))
    assert budget.seconds(work(side=512, steps=steps, batch=8)) <= 60
    assert budget.seconds(work(side=512, steps=steps + 1, batch=8)) > 60
    assert batch == 1 or budget.seconds(work(side=512, steps=40, batch=batch)) <= 60


def test_small_requests_pass_and_the_estimate_grows_with_each_factor():
    budget = WorkBudget(max_seconds=60)
    base = budget.check(work(side=128, steps=15, batch=1))
    assert base < 60
    assert budget.seconds(work(side=256, steps=15, batch=1)) > 4 * base * 0.9  # pixels (and attention)
    assert budget.seconds(work(side=128, steps=30, batch=1)) > base
    assert budget.seconds(work(side=128, steps=15, batch=2)) == pytest.approx(2 * base)


def test_the_estimate_follows_measured_runs_and_the_device():
    budget = WorkBudget(max_seconds=60)
    request = work(side=256, steps=15, batch=1)
    before = budget.seconds(request)
    for _ in range(6):
        budget.record(request, before * 10)  # this machine is ten times slower than the priors
    assert budget.seconds(request) == pytest.approx(before * 10, rel=0.05)
    assert WorkBudget(device="cuda:0").seconds(request) < before / 10


def test_the_engine_refuses_over_budget_before_any_step(make_engine, family_root):
    engine = make_engine(model_root=family_root, limits=Limits(max_request_seconds=1))
    steps = []
    with pytest.raises(WorkBudgetError, match="What fits"):
        engine.run(
            TextToImageRequest(prompt="a house", width=1024, height=1024, num_inference_steps=50),
            progress=steps.append,
        )
    assert steps == []
    assert not list(engine.config.outputs_dir.rglob("*.png"))


def test_a_cascade_counts_its_x4_pass_and_the_advice_fits():
    budget = WorkBudget(max_seconds=60)
    first = work(side=256, steps=20, batch=1)
    x4 = Work("upscale", first.megapixels * 16, 150, 1, first.size, "x4 input")
    assert budget.check(first) < 60 < budget.seconds(first) + budget.seconds(x4)
    with pytest.raises(WorkBudgetError) as caught:
        budget.check(first, then=x4)
    message = str(caught.value)
    assert "and an x4 pass" in message and "the same without the x4 upscale" in message
    steps = int(re.search(r"at most (\d+) x4 steps", message).group(1))
    assert budget.check(first, then=replace(x4, steps=steps)) <= 60
    with pytest.raises(WorkBudgetError):
        budget.check(first, then=replace(x4, steps=steps + 1))


def test_the_engine_checks_and_measures_the_x4_pass_apart_from_the_first(make_engine, family_root):
    """One x4 request once taught the budget that text-to-image steps cost 3x more (the x4 pass's time counted as the
    first pass's), and the next large text-to-image request was refused."""
    engine = make_engine(model_root=family_root)
    checked, recorded = [], []
    check = engine.budget.check
    engine.budget.check = lambda work, then=None: checked.append((work, then)) or check(work, then)
    engine.budget.record = lambda work, seconds: recorded.append(work)
    engine.run(TextToImageRequest(prompt="a house", num_inference_steps=2, seed=1, upscale_x4=True, upscale_steps=3))
    ((first, x4),) = checked
    assert (first.task, first.steps, x4.task, x4.steps) == ("text2img", 2, "upscale", 3)
    assert x4.megapixels == pytest.approx(16 * first.megapixels) and x4.batch == first.batch == 1
    assert recorded == [first, x4]  # each pass's seconds go to its own task's estimate


def test_the_budget_counts_a_semantic_map_at_the_size_it_runs(engine):
    """A map sampled at its own size (convolutional sampling) costs its own pixels, not the model's size."""
    from engine_helpers import two_class_map

    from ldm_core.engine import request_work
    from ldm_core.requests import SemanticMapRequest
    from ldm_core.validation import check_request

    limits, loaded = engine.config.limits, engine.load("semantic")
    side = max(loaded.native_size * 2, 128)
    sizes = {}
    for output_size in ("map", "model"):
        request = SemanticMapRequest(color_map=two_class_map(side, side), output_size=output_size)
        work = request_work("semantic", request, check_request(request, limits), loaded, limits)
        sizes[output_size] = work.size
    assert sizes["model"] == (loaded.native_size, loaded.native_size)
    assert sizes["map"] == (min(side, max(limits.max_semantic_side, loaded.native_size)),) * 2
    assert sizes["map"] != sizes["model"]
