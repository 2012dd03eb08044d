"""The colours of nbtune's HTML outputs: JupyterLab's theme variables, so that a line reads on its
light and dark themes alike (a green "#060" on JupyterLab Dark's #111 was 2.6:1, hard to read:
first-day test, round 24), each with a fallback for a page that no JupyterLab theme styles
(nbconvert's classic template, other frontends)."""
from __future__ import annotations

FAINT = "var(--jp-content-font-color2, #777)"  # secondary text: notes under a panel, captions
ERROR = "var(--jp-error-color1, #c00)"  # what is wrong (the space editor's invalid rows)
SUCCESS = "var(--jp-success-color0, #060)"  # what went right (the space editor's Apply)
WARN = "var(--jp-warn-color1, #f57c00)"  # the edge of a warning line, whose text stays plain
BORDER = "var(--jp-border-color1, #bdbdbd)"  # a table's rule under its header
