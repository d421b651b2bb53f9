"""The shape of the package: no import cycle between its packages, a domain free of infrastructure,
and a repository that stands alone (nothing points into ``../shared``)."""

from __future__ import annotations

import ast
import collections
from pathlib import Path

from tests.conftest import REPO

SOURCE = REPO / "src" / "coverage"
#: Infrastructure the domain and the engine never import.
INFRASTRUCTURE = ("sqlalchemy", "alembic", "prefect", "weasyprint", "jinja2", "typer", "fsspec", "psycopg")
#: Modules of pure domain: the lifecycle, the engine, the case format, plan arithmetic.
DOMAIN = [
    "requests/model.py",
    "requests/lifecycle.py",
    "requests/clocks.py",
    "requests/views.py",
    "policies/engine.py",
    "cases.py",
    "determinations.py",
    "payments/plans.py",
    "payments/ledger.py",
    "payments/offers.py",
    "payers/gateways.py",
]


def _runtime_imports(path: Path) -> set[str]:
    """Every module ``path`` imports when it runs (module level or inside functions), not for typing only."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _package(module: str) -> str:
    """``coverage.services.requests`` -> ``coverage.services``; ``coverage.worklist`` stays itself."""
    return ".".join(module.split(".")[:2])


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = collections.defaultdict(set)
    for path in SOURCE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        module = ".".join(path.relative_to(SOURCE.parent).with_suffix("").parts).removesuffix(".__init__")
        for imported in _runtime_imports(path):
            if imported.startswith("coverage.") and _package(imported) != _package(module):
                graph[_package(module)].add(_package(imported))
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph, or ``None``."""
    state: dict[str, int] = {}
    trail: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        trail.append(node)
        for following in sorted(graph.get(node, ())):
            if state.get(following) == 1:
                return [*trail[trail.index(following) :], following]
            if following not in state and (cycle := visit(following)) is not None:
                return cycle
        state[node] = 2
        trail.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_no_import_cycle_between_packages() -> None:
    graph = package_graph()
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])
    # The worklist sits above the requests and the payments; neither reads it.
    assert "coverage.worklist" not in graph["coverage.requests"] | graph["coverage.payments"]
    assert "coverage.services" in graph["coverage.worklist"]


def test_the_cycle_check_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}}) is None


def test_the_domain_imports_no_infrastructure() -> None:
    for name in DOMAIN:
        imported = _runtime_imports(SOURCE / name)
        leaks = sorted(m for m in imported if m.split(".")[0] in INFRASTRUCTURE)
        assert leaks == [], (name, leaks)
        assert not any(m.startswith(("coverage.store", "coverage.services")) for m in imported), name


def test_nothing_points_into_the_shared_folder() -> None:
    shipped = [REPO / "README.md", *SOURCE.rglob("*.py"), *(REPO / "templates").rglob("*"), *(REPO / "docs").rglob("*")]
    for path in shipped:
        if path.is_file():
            assert "../shared" not in path.read_text(encoding="utf-8", errors="replace"), path
