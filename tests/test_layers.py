"""Imports point down only: every import in src/genlab (also inside functions) is parsed with `ast`.

The layer map is the picture in docs/architecture.md:

    cli -> explorer -> runs -> {anomaly, apps, tables, metrics} -> training -> models -> {nn, diffusion, cnn} -> data

with config, registry, dataset_catalog, io, errors, formats and precision neutral (importable by every layer; they
import no layer above data). The root package ``genlab`` (the public API, whose ``train/resume/load``
come from the run layer) sits above everything; only its ``__version__`` is read from below. ``smoke`` (the
tiny training flags the CLI sweep and the share matrix use) sits there too: nothing in the library imports it.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "genlab"

LAYERS = {"api": 8, "smoke": 8, "cli": 7, "explorer": 6, "runs": 6, "anomaly": 5, "apps": 5, "tables": 5, "metrics": 5, "training": 4,
          "models": 3, "nn": 2, "diffusion": 2, "cnn": 2, "data": 1}
NEUTRAL = {"config", "registry", "dataset_catalog", "io", "errors", "formats", "precision", "cpu"}
NEUTRAL_MAY_IMPORT = NEUTRAL | {"data"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def unit(module: str) -> str:
    """The package (or neutral module) a module belongs to: 'genlab.training.trainer' -> 'training';
    the root package and ``__main__`` are 'api'."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return "api"
    return parts[1]


def imports_of(module: str, path: Path) -> list[tuple[str, int]]:
    """Every genlab module ``module`` imports (at any depth: functions, methods, TYPE_CHECKING), with its line.

    ``from genlab import __version__`` is not counted: the root package is initialized before any
    of its modules, and the version is a plain string.
    """
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "genlab"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                target = ".".join(base[:len(base) - node.level + 1] + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "genlab":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in MODULES:
                    found.append((sub, node.lineno))
                elif not (target == "genlab" and alias.name == "__version__"):
                    found.append((target, node.lineno))
    return found


def _edges() -> dict[tuple[str, str], list[str]]:
    """(importing unit, imported unit) -> where, for every import across units."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for module, path in MODULES.items():
        for target, line in imports_of(module, path):
            if unit(target) != unit(module):
                edges[unit(module), unit(target)].append(f"{path.relative_to(SRC.parent)}:{line} imports {target}")
    return edges


def test_every_unit_is_placed_in_a_layer():
    units = {unit(m) for m in MODULES}
    assert units - set(LAYERS) - NEUTRAL == set(), "a new package needs a place in the layer map (and the docs)"


def upward_imports(edges: dict[tuple[str, str], list[str]]) -> list[str]:
    """Where a unit imports a unit of a higher layer (a neutral module: anything but neutral ones and data)."""
    upward = []
    for (src, dst), where in edges.items():
        if src in NEUTRAL:
            if dst not in NEUTRAL_MAY_IMPORT:
                upward += where
        elif dst not in NEUTRAL and LAYERS[dst] > LAYERS[src]:
            upward += where
    return upward


def cycles_of(edges: dict[tuple[str, str], list[str]]) -> list[list[str]]:
    """The cycles a depth-first search of the unit graph meets (empty: the graph is a DAG)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for src, dst in edges:
        graph[src].add(dst)
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


def test_no_module_imports_a_higher_layer():
    assert upward_imports(_edges()) == []


def test_the_package_graph_has_no_cycles():
    # registry's lazy model lookup is importlib.import_module(name), not an import statement: it is the
    # documented plugin mechanism and does not appear here
    assert cycles_of(_edges()) == []


def test_the_checks_catch_an_upward_import_and_a_cycle():
    """Tests that cannot fail are defects: the checks report what they are there for."""
    edges = {("training", "models"): ["ok"], ("models", "data"): ["ok"], ("io", "data"): ["ok"],
             ("training", "runs"): ["training -> runs"], ("formats", "models"): ["formats -> models"]}
    assert sorted(upward_imports(edges)) == ["formats -> models", "training -> runs"]
    assert cycles_of(edges) == []
    assert cycles_of({**edges, ("runs", "training"): ["runs -> training"]}) == [["runs", "training", "runs"]]


def test_training_imports_only_models_data_and_neutral_modules():
    below = {dst for (src, dst) in _edges() if src == "training"}
    assert below <= {"models", "data"} | NEUTRAL, below


@pytest.mark.parametrize("source,expected", [
    ("from genlab.runs.run import train\n", ["genlab.runs.run"]),
    ("def f():\n    from genlab import runs\n", ["genlab.runs"]),
    ("import genlab.cli\n", ["genlab.cli"]),
    ("from genlab import __version__\n", []),
    ("from . import trainer\n", ["genlab.training.trainer"]),
])
def test_the_parser_sees_every_kind_of_import(tmp_path, source, expected):
    """Imports inside functions and relative imports are seen; only the version string is exempt."""
    path = tmp_path / "mod.py"
    path.write_text(source)
    assert [t for t, _ in imports_of("genlab.training.mod", path)] == expected
