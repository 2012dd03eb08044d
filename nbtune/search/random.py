"""Random search: each config drawn from the space's distributions."""
from __future__ import annotations

from .base import Searcher


class RandomSearcher(Searcher):
    """Samples `space.sample(rng)` with a generator seeded by (seed, index); grid dims sampled too."""

    name = "random"

    def _suggest(self, index: int) -> dict:
        return self.space.sample(self.rng_for(index))
