"""course_utils.pgm's modules import each other without cycles (issue 17, section 3).

Every import counts: at module level, inside functions (a late import is how a cycle hides) and
under ``TYPE_CHECKING``. Before the split, network ⇄ bif (the example catalogue read .bif files
from network.py) and elimination ⇄ junction_tree (evidence parsing typed on JunctionTree) were
cycles; the control below shows the search finds such a cycle.
"""

import ast
from pathlib import Path

import course_utils.pgm

PKG = Path(course_utils.pgm.__file__).parent
PREFIX = "course_utils.pgm."

# the one import allowed against the grain, and the function it must stay in
SHIM = ("network", "examples")
SHIM_FUNCTION = "example"  # BayesianNetwork.example: the old name of example_network, for course_utils/exercises


def imports_of(path: Path) -> dict[str, list[str]]:
    """{imported sibling module: [the function each import sits in, or "<module>"]}."""
    found: dict[str, list[str]] = {}

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inside = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else where
            names = []
            if isinstance(child, ast.ImportFrom) and child.module:
                names = [child.module]
            elif isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            for name in names:
                if name.startswith(PREFIX):
                    found.setdefault(name[len(PREFIX):].split(".")[0], []).append(where)
            visit(child, inside)

    visit(ast.parse(path.read_text()), "<module>")
    return found


def module_graph() -> dict[str, dict[str, list[str]]]:
    return {p.stem: imports_of(p) for p in sorted(PKG.glob("*.py")) if p.stem != "__init__"}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One directed cycle of the graph (as a path that returns to its start), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def dfs(v: str) -> list[str] | None:
        state[v] = 1
        path.append(v)
        for w in sorted(edges.get(v, ())):
            if state.get(w) == 1:
                return path[path.index(w):] + [w]
            if w not in state and (cycle := dfs(w)):
                return cycle
        path.pop()
        state[v] = 2
        return None

    for v in sorted(edges):
        if v not in state and (cycle := dfs(v)):
            return cycle
    return None


def test_no_import_cycles_among_pgm_modules():
    graph = module_graph()
    edges = {m: set(deps) for m, deps in graph.items()}
    edges[SHIM[0]].discard(SHIM[1])
    assert find_cycle(edges) is None, f"import cycle: {' → '.join(find_cycle(edges))}"
    # the allowed back-edge stays a late import inside BayesianNetwork.example and nowhere else
    assert graph[SHIM[0]].get(SHIM[1], [SHIM_FUNCTION]) == [SHIM_FUNCTION], graph[SHIM[0]][SHIM[1]]


def test_the_cycle_search_finds_the_cycles_the_split_removed():
    """Control: with the edges as they were before the split, the same search finds each cycle."""
    graph = module_graph()
    edges = {m: set(deps) for m, deps in graph.items()}
    # the shim itself, without its exemption, is a cycle: network → examples (→ bif) → network
    assert {"network", "examples"} <= set(find_cycle(edges))
    edges[SHIM[0]].discard(SHIM[1])
    # before: network imported bif late (bif imports network); elimination imported junction_tree
    # under TYPE_CHECKING and junction_tree imported elimination
    for old_edges in ([("network", "bif")], [("elimination", "junction_tree"), ("junction_tree", "elimination")]):
        before = {m: set(d) for m, d in edges.items()}
        for a, b in old_edges:
            before[a].add(b)
        assert {a for a, _ in old_edges} | {b for _, b in old_edges} <= set(find_cycle(before) or ()), old_edges


def test_moved_names_are_importable_from_the_package():
    """What moved is still imported from course_utils.pgm, where notebooks and tests import it."""
    from course_utils.pgm import (
        EXAMPLE_NETWORKS,
        HEURISTICS,
        BayesianNetwork,
        elimination_cost,
        elimination_order,
        evidence_indices,
        example_network,
        greedy_order,
    )

    asia = example_network("asia")
    assert isinstance(asia, BayesianNetwork) and "asia" in EXAMPLE_NETWORKS
    assert example_network("asia") is not asia  # a fresh copy each call
    assert BayesianNetwork.example("asia").structure_key == asia.structure_key
    assert set(HEURISTICS) == {"min_fill", "min_weight", "min_neighbors"}
    assert evidence_indices(asia, {"smoke": "yes"}) == {"smoke": asia.states["smoke"].index("yes")}
    assert callable(elimination_cost) and callable(elimination_order) and callable(greedy_order)
