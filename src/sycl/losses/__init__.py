"""List-wise and contrastive losses for dense retrievers, behind one registry.

``sycl.losses.get(name, **options)`` returns an ``nn.Module``; ``forward(scores, labels)`` takes raw
similarity ``scores [Q, N]`` (the loss divides by its ``temperature`` option, default 1.0) and graded
``labels [Q, k]`` with ``N == k`` (own passages) or ``N == Q * k`` (in-batch negatives, passage ``j`` of
query ``i`` at column ``i * k + j``), and returns a scalar. ``available()`` lists the names:

* ``infonce``: cross-entropy against each query's first (or best) passage.
* ``ws2``: the reference SyCL batch-level Gaussian 2-Wasserstein loss, exact (the paper's loss).
* ``kl``: ListNet KL(target || prediction) per query.
* ``wasserstein1d``: per-query earth mover's distance over relevance levels.
* ``lambdaloss``: NDCG-Loss2++ per query.

Recipes (:mod:`sycl.losses.recipes`) name a loss with fixed options: ``graded``, sycl's default, is
``wasserstein1d`` with a sharpened target and in-batch passages one level below the lowest.

List-wise losses share the target options ``label_temperature`` and ``in_batch``
(:mod:`sycl.losses.targets`); ``infonce_weight`` adds InfoNCE to any of them
(:mod:`sycl.losses.combined`). :func:`diagnostics` gives the collapse-guard statistics.

The losses return NaN/inf only if their inputs are non-finite; they do not stop training themselves:
the trainer must check the loss every step, stop on NaN/inf and keep the last good checkpoint.
"""

from sycl._lazy import lazy_exports

_EXPORTS = {
    "CombinedLoss": "sycl.losses.combined",
    "diagnostics": "sycl.losses.batch_stats",
    "InfoNCELoss": "sycl.losses.infonce",
    "KLLoss": "sycl.losses.kl",
    "LambdaLoss": "sycl.losses.lambdaloss",
    "DEFAULT_RECIPE": "sycl.losses.recipes",
    "RECIPES": "sycl.losses.recipes",
    "default_temperature": "sycl.losses.recipes",
    "available": "sycl.losses.registry",
    "get": "sycl.losses.registry",
    "options_of": "sycl.losses.registry",
    "IN_BATCH_MODES": "sycl.losses.targets",
    "TargetConfig": "sycl.losses.targets",
    "expand_labels": "sycl.losses.targets",
    "Wasserstein1DLoss": "sycl.losses.wasserstein1d",
    "WS2Loss": "sycl.losses.ws2",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
