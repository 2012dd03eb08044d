"""Random search: each config drawn from the space's distributions."""
from __future__ import annotations

from ..space import Space
from .base import Searcher, config_key, untried_sample


class RandomSearcher(Searcher):
    """Samples ``space.sample(rng)`` with a generator seeded by (seed, index); grid dims sampled
    too. A draw that repeats a config already sent to run is drawn again (a few times at most),
    so a finite space (choices, small integer ranges) is tried through before any config runs
    twice; in a space with a range of reals no draw repeats, and each config depends on (seed,
    index) alone."""

    name = "random"

    def __init__(self, space: Space | dict, seed: int | None = None,
                 points_to_evaluate: list[dict] | None = None, mode: str | None = None) -> None:
        super().__init__(space, seed=seed, points_to_evaluate=points_to_evaluate, mode=mode)
        self._tried: set[str] = set()  # the configs sent to run

    def reset(self) -> None:
        self._tried.clear()

    def on_trial_start(self, trial_id: int, config: dict) -> None:
        self._tried.add(config_key(config))

    def _suggest(self, index: int) -> dict:
        return untried_sample(self.space, self.rng_for(index), self._tried)
