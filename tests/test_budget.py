"""The work budget: a request's seconds on this device are estimated before it runs; past the cap it is refused
with WorkBudgetError saying what fits, and every alternative it names does fit. Runs update the estimate."""

from __future__ import annotations

import re

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


def test_the_x4_cascade_counts_in_the_budget_and_the_advice_names_it():
    first = work(side=128, steps=15, batch=2)
    x4 = Work("upscale", first.megapixels * 16, 15, 2, (128, 128), "input")
    whole = Work(first.task, first.megapixels, first.steps, first.batch, first.size, cascade=x4)
    budget = WorkBudget(max_seconds=(budget_seconds := WorkBudget().seconds(first) * 1.5))
    assert budget.seconds(whole) == pytest.approx(budget.seconds(first) + budget.seconds(x4))
    with pytest.raises(WorkBudgetError, match="then upscaled x4") as refused:
        budget.check(whole)
    assert "without 'upscale x4 after generating'" in str(refused.value)
    match = re.search(r"batch (\d+) at these settings", str(refused.value))
    if match:  # every alternative named fits, the x4 pass included
        assert budget.seconds(whole.batched(int(match.group(1)))) <= budget_seconds


def test_the_engine_counts_the_x4_pass_of_a_request(make_engine, family_root):
    engine = make_engine(model_root=family_root)
    alone = TextToImageRequest(prompt="a house", num_inference_steps=2)
    with_x4 = TextToImageRequest(prompt="a house", num_inference_steps=2, upscale_x4=True, upscale_steps=2)
    first = engine.budget.seconds(engine_work(engine, alone))
    whole = engine_work(engine, with_x4)
    assert whole.cascade is not None and whole.cascade.megapixels == pytest.approx(16 * whole.megapixels)
    assert engine.budget.seconds(whole) > first
    result = engine.run(with_x4)  # runs; each pass's measured time updates its own task's cost
    assert result.images[0].width == 4 * whole.size[0]


def engine_work(engine, request) -> Work:
    from ldm_core.engine import request_work
    from ldm_core.registry import task_for
    from ldm_core.validation import check_request

    task = task_for(request).name
    return request_work(
        task, request, check_request(request, engine.config.limits), engine.load(task), engine.config.limits
    )
