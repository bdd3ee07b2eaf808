"""The stores' modules: imports flow one way, and neither ledger leans on the other."""

import ast
from pathlib import Path

import pytest

import twpolicy

STORES = Path(__file__).resolve().parents[1] / "src" / "twpolicy" / "_stores"

#: Lowest first: a module may import only from modules listed before it (same tuple: neither).
ORDER = {
    "twpolicy._stores": [
        ("_time", "_ids", "_decisions", "_ratelimits", "_secrets"),
        ("_sql",),
        ("_consent", "_keys", "_quotas", "_tokens", "_compliance", "_windows"),
        ("_identity",),
    ],
    "twpolicy._stores._consent": [
        ("_values", "_errors"),
        ("_key", "_records"),
        ("_events",),
        ("_state",),
        ("_verify", "_backend", "_subject"),
        ("_memory_backend",),
        ("_sql_backend",),
        ("_ledger",),
    ],
}


def _imports(path):
    """Every module a file imports from, dotted, function-level imports included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import"
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def _child(package, module):
    """The child of ``package`` that ``module`` is or lies in, or None."""
    prefix = package + "."
    if not module.startswith(prefix):
        return None
    return module[len(prefix) :].split(".")[0]


def _files(package, name):
    path = STORES.parent.parent.joinpath(*package.split("."), name)
    return sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]


@pytest.mark.parametrize("package", sorted(ORDER))
def test_imports_flow_one_way(package):
    """No module imports one at its own level or above: the split stays a stack, not a web."""
    rank = {name: level for level, names in enumerate(ORDER[package]) for name in names}
    directory = STORES.parent.parent.joinpath(*package.split("."))
    present = {p.stem if p.suffix else p.name for p in directory.iterdir()} - {"__init__"}
    present = {n for n in present if not n.startswith((".", "__"))}
    assert set(rank) == present, "every module is placed in ORDER"
    offenders = []
    for name, level in rank.items():
        for path in _files(package, name):
            for module in _imports(path):
                child = _child(package, module)
                if child is not None and child != name and rank[child] >= level:
                    offenders.append(f"{path.relative_to(STORES)} imports {module}")
    assert [] == offenders


def test_public_names_are_where_they_were():
    """Splitting the module moved no public name: the package and its old path give them all."""
    from twpolicy._stores import _consent  # noqa: PLC0415  # the path the rest of twpolicy uses

    names = [
        "ConsentEvent",
        "ConsentEventType",
        "ConsentLedger",
        "ConsentRecord",
        "ConsentState",
        "Ledger",
        "Notice",
        "Verification",
        "open_ledger",
    ]
    for name in names:
        assert getattr(twpolicy, name) is getattr(_consent, name), name
