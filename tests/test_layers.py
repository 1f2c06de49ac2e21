"""Imports point one way: the core packages never load Qt."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_core_packages_do_not_import_qt():
    code = (
        "import sys, importlib, pkgutil\n"
        "import sim, memory, app\n"
        "for pkg in (sim, memory, app):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        if m.name in ('app.__main__',):\n"
        "            continue\n"
        "        importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'OpenGL')]\n"
        "print(','.join(bad))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"Qt loaded by core packages: {r.stdout}"


def test_memory_uses_only_leaf_modules_of_sim():
    # memory speaks its own vocabulary: the procedural generator's catalog reaches it only as a prior pack
    allowed = {"sim", "sim.types", "sim.errors", "sim.registry"}
    offenders = []
    for path in (ROOT / "memory").rglob("*.py"):
        for line in path.read_text().splitlines():
            s = line.strip()
            for prefix in ("from sim", "import sim"):
                if s.startswith(prefix):
                    mod = s.split()[1]
                    if mod not in allowed:
                        offenders.append(f"{path.relative_to(ROOT)}: {s}")
    assert not offenders, offenders


def test_launcher_imports_no_third_party_at_module_level():
    r = subprocess.run([sys.executable, "-c", "import launcher, sys; print('numpy' in sys.modules)"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.stdout.strip() == "False"


def _module_imports(top_level_only: bool) -> dict[str, set[tuple[str, str]]]:
    """Project module -> {(imported project module, imported name or '')} from the source (AST)."""
    import ast

    def name_of(p: Path) -> str:
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    mods = {name_of(p): p for pkg in ("app", "memory", "sim", "ui") for p in (ROOT / pkg).rglob("*.py")}
    out: dict[str, set[tuple[str, str]]] = {m: set() for m in mods}
    for m, p in mods.items():
        tree = ast.parse(p.read_text())
        for n in (tree.body if top_level_only else ast.walk(tree)):
            if isinstance(n, ast.ImportFrom) and n.module and n.level == 0:
                for a in n.names:
                    sub = f"{n.module}.{a.name}"
                    if sub in mods:
                        out[m].add((sub, ""))
                    elif n.module in mods:
                        out[m].add((n.module, a.name))
            elif isinstance(n, ast.Import):
                out[m].update((a.name, "") for a in n.names if a.name in mods)
    return out


def test_no_module_imports_another_modules_private_names():
    offenders = sorted(f"{m} imports {name} from {target}" for m, deps in _module_imports(False).items()
                       for target, name in deps if name.startswith("_") and target != m)
    assert not offenders, offenders


def test_project_modules_import_each_other_without_cycles():
    # deferred (function-level) imports count too: a cycle hidden in a function is still a tangle
    graph = {m: {t for t, _ in deps if t != m} for m, deps in _module_imports(False).items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, [" -> ".join(c) for c in cycles]
