"""Named training recipes, and the temperature a loss takes when none is given.

A recipe is a loss of the registry (:mod:`sycl.losses.registry`) with a fixed set of options, under a
name of its own, so that the default is a name a user can write (``--loss graded``) and that reports
print, distinct from the bare loss it is built on (``--loss wasserstein1d`` is that loss at its own
defaults). Options given beside a recipe name override the recipe's.

* ``graded`` (sycl's default): ``wasserstein1d`` with ``label_temperature 0.1`` and
  ``in_batch lowest`` -- the per-query 1-D Wasserstein distance over relevance levels, the target
  sharpened to ``softmax(labels / 0.1)``, other queries' passages one level below the query's lowest.
  Chosen by the issue-7 sweep (docs/RESULTS.md): the best list-wise recipe on Cranfield and SciFact;
  re-chosen over InfoNCE by leave-one-collection-out in every rotation (issue 28: +2.1 nDCG@10 on
  Cranfield and +2.2 on synthetic 4-level contexts where it was not chosen, level on binary data).

The temperature follows the model's similarity when it is not given (:func:`default_temperature`):
cosine scores lie in [-1, 1] and need sharpening (0.05, sentence-transformers'
MultipleNegativesRankingLoss scale 20); unnormalised dot products (Contriever, the reference) are
used as they are (1.0, the reference's value). The paper's configs give their 1.0 explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# Temperature by the encoder's similarity when a loss section gives none.
TEMPERATURE_BY_SIMILARITY = MappingProxyType({"cosine": 0.05, "dot": 1.0})


@dataclass(frozen=True)
class Recipe:
    """A registered loss (``loss``) with fixed ``options``, under its own ``name``."""

    name: str
    loss: str
    options: dict[str, Any] = field(default_factory=dict)
    summary: str = ""


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            "graded",
            "wasserstein1d",
            {"label_temperature": 0.1, "in_batch": "lowest"},
            "per-query 1-D Wasserstein over relevance levels, target softmax(labels / 0.1), "
            "other queries' passages one level below the query's lowest (sycl's default)",
        ),
    )
}
DEFAULT_RECIPE = "graded"


def default_temperature(similarity: str | None) -> float:
    """The temperature of a loss left without one: 0.05 for ``cosine``, 1.0 for ``dot`` (``None``: cosine)."""
    return TEMPERATURE_BY_SIMILARITY[similarity or "cosine"]


def resolve(name: str) -> tuple[str, dict[str, Any]]:
    """``(registered loss name, recipe options)`` of a recipe or a bare loss name (options ``{}``)."""
    recipe = RECIPES.get(name)
    if recipe is None:
        return name, {}
    return recipe.loss, dict(recipe.options)


def names() -> list[str]:
    """Every name ``loss.name`` accepts: the recipes, then the registered losses."""
    from sycl.losses.registry import available

    return sorted(RECIPES) + available()
