"""The benchmarks still run against today's cnnkit. They are not part of the suite (they need a
quiet machine), so nothing else would notice a refactor that removes a name one of them uses
(`tracking.make_client` went private once and three of them rotted unseen).

Two checks:
- every benchmarks/*.py starts and prints its `--help` (argparse) in a fresh process, exit 0 and
  no traceback: its imports, those of other benchmarks included, still resolve;
- statically, in every benchmarks/*.py and in the Python that benchmarks/*.sh runs (`-c "..."`
  and heredocs), each name imported from cnnkit or another benchmark exists, and so does each
  attribute used on a cnnkit module (`tracking.X`, `run_schema.Y`): those sit inside functions,
  which `--help` never calls.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
SCRIPTS = sorted(BENCHMARKS.glob("*.py"))
SHELL_SCRIPTS = sorted(BENCHMARKS.glob("*.sh"))
LIBRARIES = {"median_interval"}  # helpers other benchmarks import; no command line of their own
HELP_TIMEOUT_S = 240  # all of them, on a loaded 2-core machine (Keras' import alone takes seconds)
# Runs each script given as `__main__` with `--help` in this one process (Keras and MLflow are imported once,
# not once a script: ~7 CPU seconds each), and prints a JSON line: script -> [exit status, its output].
_HELP_RUNNER = """
import contextlib, io, json, runpy, sys, traceback
sys.path.insert(0, sys.argv[1])
results = {}
for path in sys.argv[2:]:
    sys.argv, out = [path, "--help"], io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            runpy.run_path(path, run_name="__main__")
            code = 0
        except SystemExit as end:
            code = end.code if isinstance(end.code, int) else (0 if end.code is None else 1)
        except BaseException:
            traceback.print_exc()
            code = 1
    results[path] = [code, out.getvalue()]
print("HELP-RESULTS " + json.dumps(results))
"""


def _has_command_line(path: Path) -> bool:
    return "argparse" in path.read_text() and path.stem not in LIBRARIES


def _helps(paths: list[Path]) -> dict[Path, tuple[int, str]]:
    """Each script's exit status and output with `--help`, all run in one fresh process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", _HELP_RUNNER, str(BENCHMARKS), *map(str, paths)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=HELP_TIMEOUT_S)
    line = next((line for line in done.stdout.splitlines() if line.startswith("HELP-RESULTS ")), None)
    assert line, f"the runner failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}"
    return {Path(path): (code, output) for path, (code, output) in json.loads(line.split(" ", 1)[1]).items()}


def _fails(code: int, output: str) -> bool:
    return code != 0 or "Traceback" in output or "usage:" not in output


def test_every_benchmark_with_a_command_line_prints_its_help():
    scripts = [path for path in SCRIPTS if _has_command_line(path)]
    assert len(scripts) >= 10, "the glob found the benchmarks"
    results = _helps(scripts)
    suspects = [path for path, (code, output) in results.items() if _fails(code, output)]
    # One failing in the shared process could be another script's doing: each suspect again, alone.
    results.update({path: _helps([path])[path] for path in suspects})
    failed = [f"{path.name}: exit {code}\n{output[-2000:]}" for path, (code, output) in results.items()
              if _fails(code, output)]
    assert not failed, "benchmarks that no longer start:\n" + "\n".join(failed)


def test_the_help_check_names_a_script_whose_import_is_gone(tmp_path):
    script = tmp_path / "rotted.py"
    script.write_text("import argparse\nfrom cnnkit.errors import no_such_name\n"
                      "argparse.ArgumentParser().parse_args()\n")
    code, output = _helps([script])[script]
    assert _fails(code, output) and "no_such_name" in output


def _benchmark_names(stem: str) -> set[str]:
    """The top-level names benchmarks/<stem>.py defines or imports."""
    names = set()
    for node in ast.parse((BENCHMARKS / f"{stem}.py").read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {name.id for target in targets for name in ast.walk(target) if isinstance(name, ast.Name)}
    return names


def _member(module: ModuleType, name: str):
    """`module.name`, a submodule imported if need be; None when there is no such thing."""
    if hasattr(module, name):
        return getattr(module, name)
    try:
        return importlib.import_module(f"{module.__name__}.{name}")
    except ImportError:
        return None


def gone_names(source: str, where: str, first_line: int = 1) -> list[str]:
    """The names `source` (starting on line `first_line` of `where`) takes from cnnkit or from another
    benchmark that no longer exist, as 'where:line: what', in line order."""
    tree = ast.parse(source, filename=where)
    modules: dict[str, ModuleType] = {}  # a name bound to a cnnkit module -> that module
    gone: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        at = getattr(node, "lineno", 1)
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "cnnkit":
                    try:
                        module = importlib.import_module(alias.name)
                    except ImportError:
                        gone.append((at, f"import {alias.name}"))
                        continue
                    modules[alias.asname] = module if alias.asname else importlib.import_module("cnnkit")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if (BENCHMARKS / f"{node.module}.py").exists():
                defined = _benchmark_names(node.module)
                gone += [(at, f"from {node.module} import {alias.name}") for alias in node.names
                         if alias.name not in defined]
            elif node.module.split(".")[0] == "cnnkit":
                try:
                    module = importlib.import_module(node.module)
                except ImportError:
                    gone.append((at, f"from {node.module} import ..."))
                    continue
                for alias in node.names:
                    found = _member(module, alias.name)
                    if found is None:
                        gone.append((at, f"from {node.module} import {alias.name}"))
                    elif isinstance(found, ModuleType):
                        modules[alias.asname or alias.name] = found

    def resolved(node: ast.expr):
        if isinstance(node, ast.Name):
            return modules.get(node.id)
        if isinstance(node, ast.Attribute) and isinstance(owner := resolved(node.value), ModuleType):
            return _member(owner, node.attr)
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(owner := resolved(node.value), ModuleType) \
                and _member(owner, node.attr) is None:
            gone.append((node.lineno, ast.unparse(node)))
    return [f"{where}:{line + first_line - 1}: {what}" for line, what in sorted(gone)]


def shell_python(text: str) -> list[tuple[int, str]]:
    """The Python a shell script runs, each piece with the line it starts on: `$PY -c "..."`
    arguments and `<<EOF` heredocs."""
    found = [(match.start(1), match.group(1)) for match in re.finditer(r'\$PY -c "((?:[^"\\]|\\.)*)"', text)]
    found += [(match.start(2), match.group(2))
              for match in re.finditer(r"<<'?(\w+)'?\n(.*?)\n\1\n", text, flags=re.DOTALL)]
    return sorted((text.count("\n", 0, start) + 1, snippet) for start, snippet in found)


def test_the_static_check_names_what_is_gone(tmp_path):
    source = ("from cnnkit import tracking\nfrom cnnkit.tracking import run_schema, no_such_name\n"
              "from median_interval import median_interval, no_such_helper\n"
              "def f():\n    tracking.RunStore(uri)\n    tracking.make_client(uri)\n    run_schema.TEST_ACCURACY\n"
              "    tracking.run_schema.NO_SUCH\n")
    assert [line.split(": ", 1)[1] for line in gone_names(source, "x.py")] == [
        "from cnnkit.tracking import no_such_name", "from median_interval import no_such_helper",
        "tracking.make_client", "tracking.run_schema.NO_SUCH"]
    shell = "$PY -c \"from cnnkit import tracking; tracking.gone('$W')\"\nRUN=$($PY - <<PYEOF\nimport os\nPYEOF\n)\n"
    assert shell_python(shell) == [(1, "from cnnkit import tracking; tracking.gone('$W')"), (3, "import os")]


@pytest.mark.parametrize("path", SCRIPTS + SHELL_SCRIPTS, ids=lambda path: path.name)
def test_every_name_a_benchmark_takes_from_cnnkit_exists(path):
    text = path.read_text()
    sources = shell_python(text) if path.suffix == ".sh" else [(1, text)]
    gone = [use for line, source in sources for use in gone_names(source, path.name, line)]
    assert not gone, "names the benchmark uses that cnnkit no longer has:\n" + "\n".join(gone)
