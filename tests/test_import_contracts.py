"""The house's import rules, checked: import-linter's contracts (``.importlinter``) and no cycle at all.

Every table is defined in storage (``app/store``), so the graph has no circle; none may come back,
and no module imports inside a function to dodge one (issue 11).
"""
import ast
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "callbacks", "config", "ingest", "layouts")

def test_the_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(lint), "--config", str(ROOT / ".importlinter"), "--no-cache"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(ROOT), "PATH": str(lint.parent)})
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def cycles(graph) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def test_the_import_graph_has_no_cycle():
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    assert cycles(graph) == [], [sorted(c) for c in cycles(graph)]


def test_the_cycle_finder_finds_a_cycle():
    class Graph:   # a -> b -> c -> a, c -> d
        edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
        modules = set(edges)

        def find_modules_directly_imported_by(self, module):
            return self.edges[module]

    assert cycles(Graph()) == [{"a", "b", "c"}]


# Where an import inside a function is the point, not a dodge: a command loads only what its
# sub-command runs, the server builds the app in the worker it forks, the catalogue merges lazily.
LAZY_ON_PURPOSE = {"app/server.py", "app/i18n.py"}


def imports_inside_functions() -> list[str]:
    found = []
    for path in sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if path.name == "__main__.py" or relative in LAZY_ON_PURPOSE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and inner.module and not inner.level:
                        if inner.module.split(".")[0] in PACKAGES:
                            found.append(f"{relative}:{inner.lineno}: from {inner.module}")
                    elif isinstance(inner, ast.Import):
                        found += [f"{relative}:{inner.lineno}: import {a.name}" for a in inner.names
                                  if a.name.split(".")[0] in PACKAGES]
    return found


def test_no_module_imports_the_house_inside_a_function():
    assert imports_inside_functions() == []
