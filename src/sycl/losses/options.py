"""Validation of loss options: every bad value raises a ``ValueError`` that names the loss and the option."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

# How other queries' passages enter a list-wise target (sycl.losses.targets.in_batch_fill).
InBatchMode = Literal["zero", "lowest", "exclude"]


def positive_float(loss: str, name: str, value: object) -> float:
    """``value`` as a finite float > 0, else ``ValueError('<loss>: option <name> ...')``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"loss {loss!r}: option {name!r} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"loss {loss!r}: option {name!r} must be a finite number > 0, got {value!r}")
    return value


def non_negative_float(loss: str, name: str, value: object) -> float:
    """``value`` as a finite float >= 0, else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"loss {loss!r}: option {name!r} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0.0:
        raise ValueError(f"loss {loss!r}: option {name!r} must be a finite number >= 0, got {value!r}")
    return value


def choice(loss: str, name: str, value: object, allowed: Sequence[str]) -> str:
    """``value`` if it is one of ``allowed``, else ``ValueError`` listing the allowed values."""
    if value not in allowed:
        raise ValueError(
            f"loss {loss!r}: option {name!r} must be one of {', '.join(map(repr, allowed))}; got {value!r}"
        )
    return str(value)
