"""The README's code, for the tests that run its recipes as a user copies them."""
from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks(section: str) -> list[str]:
    """The ```python blocks of the README's section titled ``section`` (a "## " heading)."""
    text = README.read_text()
    body = text[text.index(f"## {section}\n"):]
    body = body[:body.index("\n## ", 1)]
    return re.findall(r"```python\n(.*?)```", body, re.S)
