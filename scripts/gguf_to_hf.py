"""Print the Hugging Face model folder of a GGUF checkpoint (default: the embedded SmolLM2), made once.

vLLM loads a Hugging Face folder; the embedded generator ships as a GGUF file. The folder is
the transformers backend's de-quantised copy (``from_pretrained(..., gguf_file=...)`` then
``save_pretrained``, cached under ``$SYCL_CACHE/gguf/``; see
:func:`sycl.generation.backends.hf_local.dequantized_dir`), so it is converted only once.

    python scripts/gguf_to_hf.py [--gguf FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gguf", type=Path, help="GGUF file (default: sycl.embedded.generator_path())")
    a = ap.parse_args()
    from sycl.embedded import generator_path
    from sycl.generation.backends.hf_local import dequantized_dir

    print(dequantized_dir(a.gguf or generator_path()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
