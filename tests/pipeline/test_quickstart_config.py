"""``sycl quickstart``'s flags reach the run it builds: generator fields go to the generate stage as given."""

from __future__ import annotations

from sycl.cli import build_parser
from sycl.config import apply_overrides, flag_values, validate
from sycl.pipeline.quickstart import QuickstartConfig, quickstart_config


def _config(argv):
    args = build_parser().parse_args(["quickstart", *argv])
    return quickstart_config(validate(QuickstartConfig, apply_overrides({}, flag_values(args))))


def test_generator_flags_are_generation_fields_and_reach_the_generate_stage():
    cfg = _config(
        [
            "--backend",
            "openai",
            "--model",
            "m",
            "--concurrency",
            "3",
            "--limit",
            "5",
            "--eval",
            "x",
            "--epochs",
            "1",
            "--seed",
            "7",
        ]
    )
    g = cfg.generate
    assert (g.backend, g.model, g.concurrency, g.limit) == ("openai", "m", 3, 5)
    assert g.max_failure_rate == 0.1  # only the weak embedded model gets the looser bound
    assert cfg.evaluate.datasets == ["{heldout}", "x"] and cfg.seed == 7
    assert {exp.train.epochs for exp in cfg.train.values()} == {1}


def test_defaults_are_the_embedded_generator_with_its_looser_failure_bound():
    g = _config([]).generate
    assert g.backend == "embedded" and g.max_failure_rate == 0.3 and g.limit is None
