"""The notebook layer: the %%tune magic, cell parsing and (later) widgets."""
