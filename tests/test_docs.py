"""Every Python example in README.md and docs/ runs, so no page can drift from the code.

The Python blocks of one page continue one another (a later block uses names an earlier one
defined), so each page runs as one program, in a fresh interpreter and an empty directory.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _program(page):
    return "\n\n".join(BLOCK.findall(page.read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    "page", [p for p in PAGES if _program(p)], ids=lambda p: str(p.relative_to(ROOT))
)
def test_examples_run(page, tmp_path):
    """The page's Python blocks, run together, exit cleanly."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWPOLICY_")}
    result = subprocess.run(
        [sys.executable, "-c", _program(page)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert 0 == result.returncode, result.stderr[-4000:]
