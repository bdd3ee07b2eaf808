"""The architecture: each module sits in one layer of the import contract; none imports the root."""

import ast
from pathlib import Path

from twpolicy._compat import tomllib

SRC = Path(__file__).resolve().parents[1] / "src" / "twpolicy"
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _layers():
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    (contract,) = config["tool"]["importlinter"]["contracts"]
    return [{name.strip() for name in layer.split("|")} for layer in contract["layers"]]


def _modules():
    """Every top-level module and subpackage of twpolicy, as a dotted name."""
    names = set()
    for path in SRC.iterdir():
        if path.name == "__init__.py" or path.name.startswith("."):
            continue
        if path.suffix == ".py":
            names.add(f"twpolicy.{path.stem}")
        elif (path / "__init__.py").exists():
            names.add(f"twpolicy.{path.name}")
    return names


class TestLayers:
    def test_every_module_is_in_exactly_one_layer(self):
        """A module outside the contract could import anything: the contract is exhaustive."""
        placed = [name for layer in _layers() for name in layer]
        assert len(placed) == len(set(placed))
        assert _modules() == set(placed)

    def test_no_module_imports_the_package_root(self):
        """``from twpolicy import X`` inside the package would hide a cycle through __init__."""
        offenders = []
        for path in SRC.rglob("*.py"):
            if path.name == "__init__.py" and path.parent == SRC:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module == "twpolicy":
                    names = {alias.name for alias in node.names}
                    if not all((SRC / f"{n}.py").exists() or (SRC / n).is_dir() for n in names):
                        offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
                elif isinstance(node, ast.Import) and any(a.name == "twpolicy" for a in node.names):
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
        assert [] == offenders
