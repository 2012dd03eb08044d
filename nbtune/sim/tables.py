"""Learning-curve tables: real training recorded once, looked up by nearest neighbour.

A table is one compressed ``.npz`` file (numpy only, no pickle, so loading one never runs code):

- ``meta``: JSON text: name, description, the task, metric, mode, resource, the space
  (:meth:`Space.to_dict`), the generating command, package versions, date, format version;
- ``configs``: JSON text, the list of configs (drawn from the space with ``seeds``' seed);
- ``levels``: int64 ``(L,)``, the resource levels; ``values``: float32 ``(n, L)``, the metric at
  each level (NaN where the training diverged); ``seconds``: float32 ``(n, L)``, the measured
  seconds each level took; ``seeds``: int64 ``(n,)``, the random state each curve was trained with.

A searcher's config is mapped to the table's nearest config: configs with the same value of every
finite dimension (``choice``) first, then the smallest Euclidean distance in the unit-cube encoding
of the numeric dimensions (:meth:`Space.to_unit`); ties go to the earlier row. This is the
1-nearest-neighbour surrogate of Syne Tune's blackbox repository: every simulated curve is a real
one (its noise, its divergences, its time per level), with no model in between to smooth it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..space import Space
from .blackbox import Blackbox

FORMAT = 1
DATA = Path(__file__).resolve().parent.parent / "data"


class Table(Blackbox):
    """Learning curves of real training: ``values[i, j]`` is config i's metric at ``levels[j]``."""

    def __init__(self, name: str, space: Space, configs: list[dict], levels: Any, values: Any,
                 seconds: Any, seeds: Any, metric: str, mode: str, resource: str,
                 meta: Mapping[str, Any] | None = None):
        super().__init__(space, metric, mode, resource, levels)
        self.name, self.configs = name, list(configs)
        self.values = np.asarray(values, dtype=np.float32)
        self.seconds = np.asarray(seconds, dtype=np.float32)
        self.seeds = np.asarray(seeds, dtype=np.int64)
        n, L = len(self.configs), len(self.levels)
        for what, a in (("values", self.values), ("seconds", self.seconds)):
            if a.shape != (n, L):
                raise ValueError(f"table {name!r}: {what} has shape {a.shape}, expected ({n}, {L})")
        self.meta = dict(meta or {})
        self._numeric = [k for k in self.space.unit_names if self.space[k].values is None]
        self._finite = [k for k in self.space.unit_names if self.space[k].values is not None]
        self._units = np.array([[self.space[k].to_unit(c[k]) for k in self._numeric]
                                for c in self.configs], dtype=float).reshape(n, -1)
        self._codes = np.array([[self.space[k].to_unit(c[k]) for k in self._finite]
                                for c in self.configs], dtype=float).reshape(n, -1)
        self._groups: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}  # choices -> rows, units
        for code in dict.fromkeys(map(tuple, self._codes.tolist())):
            rows = np.flatnonzero((self._codes == code).all(axis=1))
            self._groups[code] = rows, self._units[rows]

    def __len__(self) -> int:
        return len(self.configs)

    def __repr__(self) -> str:
        return (f"<Table {self.name!r}: {len(self)} configs x {len(self.levels)} levels of "
                f"{self.resource!r}, {self.metric} ({self.mode})>")

    def row(self, config: Mapping[str, Any]) -> int:
        """The index of the table's config nearest to ``config``."""
        u = np.array([self.space[k].to_unit(config[k]) for k in self._numeric], dtype=float)
        code = tuple(self.space[k].to_unit(config[k]) for k in self._finite)
        group = self._groups.get(code)
        if group is not None:  # the rows with the same choices: the nearest of them
            rows, units = group
            return int(rows[np.argmin(((units - u) ** 2).sum(axis=1))])
        distance = ((self._units - u) ** 2).sum(axis=1)
        distance += (self._codes != np.array(code)).sum(axis=1) * (len(self._numeric) + 1.0)
        return int(np.argmin(distance))

    def allowed(self, space: Space) -> tuple[list[dict], np.ndarray]:
        """The table's configs that lie in ``space`` (which may be narrower than the table's),
        and their unit-cube encoding (what :meth:`nbtune.Searcher.restrict` takes), computed
        once per space."""
        from ..search.encoding import Encoding

        cache = self.__dict__.setdefault("_allowed", {})
        key = repr(space)
        if key not in cache:
            configs = []
            for config in self.configs:
                config = space.complete({k: v for k, v in config.items() if k in space})
                try:
                    space.validate(config)
                except ValueError:
                    continue
                configs.append(config)
            cache[key] = (configs, Encoding(space).encode_all(configs))
        return cache[key]

    def curve(self, config: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """The nearest config's metric and seconds at every level."""
        i = self.row(config)
        return self.values[i], self.seconds[i]

    @property
    def best_value(self) -> float:
        """The best value in the table, at any level."""
        finite = self.values[np.isfinite(self.values)]
        if finite.size == 0:
            return float("nan")
        return float(finite.max() if self.mode == "max" else finite.min())

    def save(self, path: str | os.PathLike) -> None:
        """Write the table as one compressed ``.npz`` file."""
        meta = {**self.meta, "name": self.name, "metric": self.metric, "mode": self.mode,
                "resource": self.resource, "space": self.space.to_dict(), "format": FORMAT}
        np.savez_compressed(path, meta=np.array(json.dumps(meta)),
                            configs=np.array(json.dumps(self.configs)), levels=self.levels,
                            values=self.values, seconds=self.seconds, seeds=self.seeds)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Table":
        """Read a table written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            if meta.get("format") != FORMAT:
                raise ValueError(f"{os.fspath(path)!r} is a table of format {meta.get('format')!r}"
                                 f"; this nbtune reads format {FORMAT}")
            return cls(meta["name"], Space.from_dict(meta["space"]), json.loads(str(f["configs"])),
                       f["levels"], f["values"], f["seconds"], f["seeds"], meta["metric"],
                       meta["mode"], meta["resource"], meta)


def table_names() -> list[str]:
    """Names of the tables shipped with nbtune."""
    return sorted(p.name[:-4] for p in DATA.glob("*.npz"))


_LOADED: dict[str, Table] = {}


def load_table(table: str | os.PathLike | Table) -> Table:
    """A table by its name (one of :func:`table_names`) or the path of a ``.npz`` file."""
    if isinstance(table, Table):
        return table
    path = Path(table)
    if not isinstance(table, (str, os.PathLike)) or not (path.suffix == ".npz" or
                                                         (DATA / f"{table}.npz").exists()):
        known = ", ".join(table_names()) or "none"
        raise ValueError(f"unknown table {table!r}: use one of {known}, the path of a .npz "
                         "table, or a Blackbox object")
    if path.suffix != ".npz":
        path = DATA / f"{table}.npz"
    if not path.exists():
        raise ValueError(f"no table file at {os.fspath(path)!r}: regenerate it with `make tables`"
                         f", or use one of {', '.join(table_names()) or 'none'}")
    key = os.fspath(path.resolve())
    if key not in _LOADED:
        _LOADED[key] = Table.load(path)
    return _LOADED[key]
