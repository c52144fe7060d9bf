"""The `--serve ray` flags and the parts of serving that need no Ray cluster: fast, and most need no Ray at all."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from ldm_core import EngineConfig
from ldm_core.errors import InvalidRequestError
from ldm_serve.messages import JobFailed
from ldm_serve.options import ServeOptions, serve_options

REPO_ROOT = Path(__file__).resolve().parents[1]


def parse(*flags: str):
    import app

    return app.parse_args(list(flags))


def test_the_app_without_serve_ray_imports_nothing_of_ray():
    script = "import sys, app; print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))"
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_serve_flags_become_options():
    assert serve_options(parse()) is None
    options = serve_options(
        parse("--serve", "ray", "--replicas", "3", "--cpus-per-replica", "2", "--ray-address", "auto")
    )
    assert options == ServeOptions(replicas=3, cpus_per_replica=2, address="auto", gpus_per_replica=None)
    assert serve_options(parse("--serve", "ray", "--gpus-per-replica", "0.5")).gpus_per_replica == 0.5
    assert serve_options(parse("--serve", "ray")) == ServeOptions()


def test_replica_flags_without_serve_ray_are_refused_by_name():
    with pytest.raises(SystemExit, match=r"--replicas, --ray-address: only with --serve ray"):
        serve_options(parse("--replicas", "2", "--ray-address", "auto"))


@pytest.mark.parametrize("flags", [["--replicas", "0"], ["--gpus-per-replica", "-1"], ["--serve", "spark"]])
def test_bad_serve_values_are_refused(flags, capsys):
    with pytest.raises(SystemExit):
        parse("--serve", "ray", *flags)
    assert flags[0] in capsys.readouterr().err


def test_concurrency_defaults_to_two_jobs_per_replica(monkeypatch):
    import app

    seen = {}

    class FakeDemo:
        def queue(self, **options):
            seen.update(options)

        def launch(self, **options):
            raise SystemExit  # stop before serving

    for flags, expected in (([], 1), (["--serve", "ray", "--replicas", "3"], 6), (["--concurrency", "2"], 2)):
        with pytest.raises(SystemExit):
            app.launch(FakeDemo(), parse(*flags))
        assert seen["default_concurrency_limit"] == expected, flags


def test_errors_cross_processes_with_their_fields():
    error = InvalidRequestError("width", 500, "must be a multiple of 8")
    copy = pickle.loads(pickle.dumps(JobFailed(error))).error
    assert type(copy) is InvalidRequestError and str(copy) == str(error)
    assert (copy.field, copy.value, copy.rule) == ("width", 500, "must be a multiple of 8")


def test_without_ray_installed_the_start_says_what_to_install(monkeypatch):
    from ldm_serve.cluster import ServeStartError, start_replicas

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed: `import ray` raises ImportError
    with pytest.raises(ServeStartError, match=r"pip install -r requirements-serve\.txt"):
        start_replicas(EngineConfig(), ServeOptions())


def test_a_bad_preset_fails_before_ray_starts():
    from ldm_serve.cluster import ServeStartError, start_replicas

    with pytest.raises(ServeStartError, match="nope"):
        start_replicas(EngineConfig(preset="nope"), ServeOptions())


def test_replicas_that_do_not_fit_are_refused_up_front_on_a_private_instance(caplog):
    from ldm_serve.cluster import ServeStartError, _gpus_per_replica

    two_cores = {"CPU": 2.0}
    assert _gpus_per_replica(two_cores, ServeOptions(replicas=2), private=True) == 0.0
    assert _gpus_per_replica({"CPU": 8.0, "GPU": 2.0}, ServeOptions(replicas=2), private=True) == 1.0
    with pytest.raises(ServeStartError, match=r"--replicas 3 need 3 CPUs .* has 2: lower --replicas"):
        _gpus_per_replica(two_cores, ServeOptions(replicas=3), private=True)
    with pytest.raises(ServeStartError, match=r"need 2 GPUs \(--gpus-per-replica 1\) and the Ray cluster has 0"):
        _gpus_per_replica({"CPU": 4.0}, ServeOptions(replicas=2, gpus_per_replica=1), private=True)
    # A cluster may grow (autoscaling): warned, not refused.
    assert _gpus_per_replica(two_cores, ServeOptions(replicas=3, address="auto"), private=False) == 0.0
    assert "wait until the cluster grows" in caplog.text


def test_the_start_up_summary_says_where_the_engine_runs():
    import app

    description = {"preset": "builtin", "device": "cpu", "dtype": "float32", "memory_mode": "none"}
    assert "engine" not in app.engine_summary(description)
    summary = app.engine_summary(description | {"serving": "Ray Serve, 2 replicas × 1 CPU, on a private Ray instance"})
    assert summary.splitlines()[-1] == "  engine Ray Serve, 2 replicas × 1 CPU, on a private Ray instance"
