"""The engine on Dask: the only package of nbtune that imports ``distributed``."""
