"""``sycl quickstart``: the whole pipeline offline on embedded defaults, in minutes on 2 cores.

50 queries written for the project (``sycl/resources/quickstart/queries.jsonl``) -> the
embedded LLM (SmolLM2-135M-Instruct) writes one passage per relevance level for each -> 20% of
the queries are held out -> the embedded all-MiniLM-L6-v2 is trained three times on the
remaining contexts: sycl's default list-wise recipe, the paper's exact ``ws2``, and InfoNCE on
the same data binarised (label >= 2 positive) -> the base model and the three trained models
are evaluated on the held-out queries (and on any ``--eval`` BEIR folder) -> report.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import Field

from sycl.config import StrictModel
from sycl.generation.config import GenerationConfig
from sycl.pipeline.config import EvaluateConfig, HoldoutConfig, RunConfig

WEAK_GENERATOR_NOTE = (
    "Note: the embedded generator is SmolLM2-135M-Instruct, a 135M-parameter model that writes fluent text but "
    "separates relevance levels poorly; its numbers show the pipeline works, not what SyCL can do. Point the same "
    "run at a real model served by vLLM or any OpenAI-compatible server:\n"
    "  vllm serve meta-llama/Llama-3.3-70B-Instruct --port 8000\n"
    "  sycl quickstart --backend openai --base-url http://127.0.0.1:8000/v1 --model meta-llama/Llama-3.3-70B-Instruct"
)


def quickstart_queries() -> Path:
    return Path(str(resources.files("sycl") / "resources" / "quickstart" / "queries.jsonl"))


class QuickstartConfig(StrictModel):
    """The choices ``sycl quickstart`` leaves to the user; everything else is fixed by :func:`quickstart_config`."""

    out: str = Field(default="sycl-quickstart", description="run directory")
    eval_paths: list[str] = Field(
        default_factory=list, description="also evaluate on this BEIR folder (test split; repeatable)"
    )
    generator: GenerationConfig = Field(
        default_factory=GenerationConfig,
        description="who writes the passages: the GenerationConfig fields the command line offers "
        "(backend, model, base_url, api_key_env, concurrency, limit)",
    )
    epochs: int = Field(default=2, gt=0, description="training epochs of each model")
    seed: int = Field(default=13, description="seed of the whole run")


def quickstart_config(q: QuickstartConfig | None = None) -> RunConfig:
    """The quickstart as a :class:`RunConfig` (what ``sycl run`` would read from a file)."""
    q = q or QuickstartConfig()
    generate = {"queries": str(quickstart_queries()), **q.generator.model_dump(mode="json", exclude_unset=True)}
    if q.generator.backend == "embedded":
        # The 135M model fails a few queries outright (meta-text after every attempt: 1 of 50 measured); a
        # looser bound than the 10% default keeps the demo from failing on a weak generator's bad day.
        generate.setdefault("max_failure_rate", 0.3)
    common_train = {"epochs": q.epochs, "batch_size": 8, "lr": 2e-5, "log_every": 1, "save_every": 0}
    multilevel = {"sources": [{"path": "{data}"}], "format": "multilevel", "group_size": 4}
    train = {
        # sycl's default recipe (the loss section left out: graded, sycl.losses.recipes)
        "sycl-default": {"data": multilevel, "train": common_train},
        # the paper's loss, exactly as the reference computes it, at the reference's temperature
        "ws2": {"data": multilevel, "loss": {"name": "ws2", "temperature": 1.0}, "train": common_train},
        # contrastive baseline on the same contexts binarised: label >= 2 positive, first in its group
        "infonce": {
            "data": {"sources": [{"path": "{data}"}], "format": "binary", "positive_threshold": 2, "group_size": 3},
            "loss": {"name": "infonce", "temperature": 0.05},
            "train": common_train,
        },
    }
    return RunConfig(
        name="quickstart",
        out=q.out,
        seed=q.seed,
        generate=generate,
        holdout=HoldoutConfig(fraction=0.2),
        train=train,
        evaluate=EvaluateConfig(
            datasets=["{heldout}", *q.eval_paths], split="test", base_model=True, show_progress=False
        ),
        report=True,
    )
