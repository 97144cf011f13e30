"""The layer rule, read from the source: api -> domain -> solvers, cost_models; never up.

Every `import` and `from ... import` of every module is parsed (also those inside
functions), so a planted upward import fails here.
"""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "sourcing_engine"
LAYERS = {
    # folder: what its modules may import of ours
    "cost_models": {"sourcing_engine.cost_models"},
    "solvers": {"sourcing_engine.cost_models", "sourcing_engine.solvers"},
    "sourcing_engine": {"sourcing_engine"},  # everything below the API
    "api": {"sourcing_engine"},
}
ALLOWED_UPWARD = {("sourcing_engine/cli.py", "sourcing_engine.api.serve")}
"""(module, what it may import from above): the command line is the composition root, it
starts the API (lazily)."""


def _ours(module: str) -> bool:
    return module == PACKAGE or module.startswith(PACKAGE + ".")


def imports_of(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return [m for m in found if _ours(m) or m.split(".")[0] in LAYERS]


def violations(folder: str) -> list[str]:
    out = []
    for path in sorted((REPO / folder).rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if any((REPO / p).is_symlink() for p in _prefixes(rel)):
            continue  # the package's links to api/, solvers/, cost_models/: checked there
        for module in imports_of(path):
            if not _ours(module):
                out.append(f"{rel}: imports {module} by its top-level name; use {PACKAGE}.*")
                continue
            allowed = any(module == a or module.startswith(a + ".") for a in LAYERS[folder])
            upward = folder == "sourcing_engine" and (
                module == "sourcing_engine.api" or module.startswith("sourcing_engine.api.")
            )
            excused = any(
                rel == r and (module == m or module.startswith(m + ".")) for r, m in ALLOWED_UPWARD
            )
            if (not allowed or upward) and not excused:
                out.append(f"{rel}: imports {module}, above its layer")
    return out


def _prefixes(rel: str) -> list[str]:
    parts = rel.split("/")
    return ["/".join(parts[: k + 1]) for k in range(len(parts) - 1)]


@pytest.mark.parametrize("folder", list(LAYERS))
def test_imports_point_down_only(folder: str) -> None:
    """No module imports a layer above its own (nor our packages by top-level names)."""
    assert violations(folder) == []


def test_a_planted_upward_import_is_caught(tmp_path: Path) -> None:
    """The check itself: a solver importing the domain, or the domain the API, is reported."""
    planted = tmp_path / "m.py"
    planted.write_text("from sourcing_engine.domain import Node\nimport sourcing_engine.api.app\n")
    assert imports_of(planted) == [
        "sourcing_engine.domain",
        "sourcing_engine.domain.Node",
        "sourcing_engine.api.app",
    ]
    solver = REPO / "solvers" / "_planted_for_test.py"
    solver.write_text("from sourcing_engine.domain import Node\n")
    try:
        assert violations("solvers") == [
            "solvers/_planted_for_test.py: imports sourcing_engine.domain, above its layer",
            "solvers/_planted_for_test.py: imports sourcing_engine.domain.Node, above its layer",
        ]
    finally:
        solver.unlink()
