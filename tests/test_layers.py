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
