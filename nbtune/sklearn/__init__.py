"""The scikit-learn face of nbtune: :class:`SearchCV`, a cross-validated search on Dask."""
from __future__ import annotations

from .search import SearchCV

__all__ = ["SearchCV"]
