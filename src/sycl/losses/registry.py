"""The loss registry: ``get(name, **options)`` and ``available()``.

Every loss is an ``nn.Module`` whose ``forward(scores [Q, N], labels [Q, k])`` returns a scalar; options
are keyword arguments of its constructor, validated there. Unknown names and options raise
``ValueError`` naming them. One generic option, ``infonce_weight`` (with optional
``infonce_temperature``), adds InfoNCE to any other loss (see :mod:`sycl.losses.combined`).
"""

from __future__ import annotations

import inspect

from torch import nn

from sycl.losses.combined import CombinedLoss
from sycl.losses.infonce import InfoNCELoss
from sycl.losses.kl import KLLoss
from sycl.losses.lambdaloss import LambdaLoss
from sycl.losses.options import non_negative_float, positive_float
from sycl.losses.wasserstein1d import Wasserstein1DLoss
from sycl.losses.ws2 import WS2Loss

LOSSES: dict[str, type[nn.Module]] = {
    cls.name: cls for cls in (InfoNCELoss, WS2Loss, KLLoss, Wasserstein1DLoss, LambdaLoss)
}
_COMBINE_OPTIONS = ("infonce_weight", "infonce_temperature")


def available() -> list[str]:
    """Registered loss names, sorted."""
    return sorted(LOSSES)


def options_of(name: str) -> list[str]:
    """The option names ``get(name, ...)`` accepts (constructor keywords plus the InfoNCE mix-in ones)."""
    cls = _lookup(name)
    own = [p.name for p in inspect.signature(cls.__init__).parameters.values() if p.kind is p.KEYWORD_ONLY]
    return own + ([] if name == "infonce" else list(_COMBINE_OPTIONS))


def _lookup(name: str) -> type[nn.Module]:
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; available: {', '.join(available())}")
    return LOSSES[name]


def get(name: str, **options) -> nn.Module:
    """Build loss ``name`` with ``options``; e.g. ``get("kl", temperature=0.05, label_temperature=0.1)``.

    ``infonce_weight=w`` (> 0) returns ``CombinedLoss`` computing ``loss + w * infonce`` with InfoNCE at
    ``infonce_temperature`` (default: the loss's ``temperature``) against each query's best own passage.
    """
    cls = _lookup(name)
    accepted = options_of(name)
    unknown = [key for key in options if key not in accepted]
    if unknown:
        raise ValueError(
            f"loss {name!r} has no option {', '.join(map(repr, unknown))}; its options are: {', '.join(accepted)}"
        )
    weight = non_negative_float(name, "infonce_weight", options.pop("infonce_weight", 0.0))
    infonce_temperature = options.pop("infonce_temperature", None)
    loss = cls(**options)
    if infonce_temperature is not None:
        infonce_temperature = positive_float(name, "infonce_temperature", infonce_temperature)
        if weight == 0.0:
            raise ValueError(f"loss {name!r}: option 'infonce_temperature' needs infonce_weight > 0")
    if weight == 0.0:
        return loss
    tau = infonce_temperature if infonce_temperature is not None else loss.temperature
    return CombinedLoss(
        {name: loss, "infonce": InfoNCELoss(temperature=tau, positive="max")}, {name: 1.0, "infonce": weight}
    )
