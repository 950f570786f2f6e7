"""The module graph: cnnkit's modules import each other without cycles, imports inside functions
included (a lazy import hides a cycle, it doesn't remove it)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "cnnkit"
# Lazy imports left in place knowingly, each with why; every other edge counts.
KNOWN_LAZY_IMPORTS: dict[tuple[str, str], str] = {}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def cnnkit_imports(path: Path, modules: set[str]) -> set[str]:
    """The cnnkit modules `path` imports anywhere in its code (`from cnnkit import tracking` names
    the module tracking; `from cnnkit import __version__` the package itself)."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & modules
            # `from cnnkit.tracking import run_schema` names the module run_schema; its package's
            # __init__ runs first for any submodule, so that is no edge of this module's own.
            imported |= submodules
            if len(submodules) < len(node.names):
                imported.add(node.module)
    return {name for name in imported if name in modules}


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: cnnkit_imports(path, set(paths)) - {name} for name, path in paths.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None when the graph is a DAG."""
    state: dict[str, str] = {}  # "open" while on the path, "done" after

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return path[path.index(target):] + [node, target] if target in path else [node, target]
            if target not in state and (cycle := visit(target, path + [node])):
                return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [])):
            return cycle
    return None


def test_the_finder_names_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_cnnkit_modules_import_each_other_without_cycles():
    graph = import_graph()
    for importer, imported in KNOWN_LAZY_IMPORTS:
        graph[importer].discard(imported)
    assert {"cnnkit.tracking", "cnnkit.training"} <= set(graph)  # the walk found the package
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


# The packages and top-level modules of cnnkit, lowest first: a module imports only from its own
# package or from one listed before it (docs/ARCHITECTURE.md draws the same order).
LAYERS = (
    ("errors", "full_disk"),
    ("stats",),
    ("datasets",),
    ("models",),
    ("config",),
    ("tracking",),
    ("training",),
    ("jobs",),
    ("experiments",),
    ("explorer",),
    ("cli", "label_audit_command", "__main__"),
)
LAYER_OF = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def unit_of(module: str) -> str | None:
    """cnnkit.tracking.logger -> "tracking"; the package itself ("cnnkit": the version and InputError
    only) is below everything."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    wrong = []
    for importer, imported in sorted(graph.items()):
        for target in sorted(imported):
            here, there = unit_of(importer), unit_of(target)
            if here is None or there is None or here == there:
                continue
            if LAYER_OF[there] > LAYER_OF[here]:
                wrong.append(f"{importer} -> {target}")
    return wrong


def test_the_layer_check_names_an_upward_import():
    graph = {"cnnkit.datasets.splits": {"cnnkit.config.settings", "cnnkit.errors"}, "cnnkit.config": {"cnnkit.datasets"}}
    assert upward_imports(graph) == ["cnnkit.datasets.splits -> cnnkit.config.settings"]


def test_every_package_has_a_layer_and_imports_only_go_down():
    graph = import_graph()
    units = {unit_of(module) for module in graph} - {None}
    assert units == set(LAYER_OF), f"give each package a layer in LAYERS: {sorted(units ^ set(LAYER_OF))}"
    assert upward_imports(graph) == []


# ---- faces: outside a package, code uses only what its __init__ names in __all__ ------------

ROOT = PACKAGE.parent
PACKAGES = sorted(path.parent.name for path in PACKAGE.glob("*/__init__.py"))


def face_of(package: str) -> set[str]:
    """The names in `cnnkit.<package>.__all__`, read from its source (a literal list or tuple)."""
    tree = ast.parse((PACKAGE / package / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(target, "id", None) == "__all__" for target in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


def reaches_past_faces(path: Path, faces: dict[str, set[str]]) -> list[str]:
    """Where `path` (outside the package it names) imports a package's module directly, or a name, or
    reads an attribute of the package, that the package's face doesn't offer."""
    parts = path.relative_to(ROOT).parts
    own = parts[1] if parts[0] == "cnnkit" and len(parts) > 2 else None
    tree = ast.parse(path.read_text(), filename=str(path))
    bound: dict[str, str] = {}  # local name -> package, for `from cnnkit import tracking`
    wrong = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = node.module.split(".")
            if names[0] != "cnnkit":
                continue
            if len(names) == 1:
                bound |= {alias.asname or alias.name: alias.name for alias in node.names if alias.name in faces}
                continue
            if names[1] not in faces or names[1] == own:
                continue
            if len(names) > 2:
                wrong.append(f"{where} imports {node.module} (use cnnkit.{names[1]})")
            else:
                wrong += [f"{where} imports {alias.name} from cnnkit.{names[1]}, not in its __all__"
                          for alias in node.names if alias.name not in faces[names[1]]]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names = alias.name.split(".")
                if names[0] == "cnnkit" and len(names) > 2 and names[1] in faces and names[1] != own:
                    wrong.append(f"{where} imports {alias.name} (use cnnkit.{names[1]})")
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound
                and bound[node.value.id] != own and node.attr not in faces[bound[node.value.id]]):
            wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} reads {node.value.id}.{node.attr}, not in its __all__")
    return wrong


def test_the_face_check_names_what_reaches_past_a_face(tmp_path, monkeypatch):
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    module = tmp_path / "app_pages" / "page.py"
    module.parent.mkdir()
    module.write_text("from cnnkit import tracking\nfrom cnnkit.tracking.logger import RunLogger\n"
                      "from cnnkit.tracking import RunStore, secret\nimport cnnkit.tracking.patience\n"
                      "tracking.RunStore()\ntracking._private()\n")
    assert reaches_past_faces(module, {"tracking": {"RunStore"}}) == [
        "app_pages/page.py:2 imports cnnkit.tracking.logger (use cnnkit.tracking)",
        "app_pages/page.py:3 imports secret from cnnkit.tracking, not in its __all__",
        "app_pages/page.py:4 imports cnnkit.tracking.patience (use cnnkit.tracking)",
        "app_pages/page.py:6 reads tracking._private, not in its __all__",
    ]


def test_code_outside_a_package_uses_only_its_face():
    faces = {package: face_of(package) for package in PACKAGES}
    assert all(faces.values()), f"every package names its face in __all__: {[p for p, f in faces.items() if not f]}"
    sources = [*PACKAGE.rglob("*.py"), *(ROOT / "app_pages").glob("*.py"), ROOT / "streamlit_app.py"]
    wrong = [problem for path in sorted(sources) for problem in reaches_past_faces(path, faces)]
    assert not wrong, "\n".join(wrong)


# ---- every module has its own test file ----------------------------------------------------


def expected_test_file(module: Path) -> Path | None:
    """Where the tests of `module` live: tests/<package>/test_<module>.py (a subpackage's modules:
    tests/<package>/test_<subpackage>_<module>.py); None for a package's face (tested here, by the
    rules above) and for private helpers (tested through the modules that use them)."""
    parts = module.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] in ("__init__", "__main__") or parts[-1].startswith("_"):
        return None
    tests = ROOT / "tests"
    if len(parts) == 1:  # cnnkit/cli.py: tests/cli/ when the CLI has a folder of tests, else tests/test_errors.py
        folder = tests / parts[0]
        return (folder if folder.is_dir() else tests) / f"test_{parts[0]}.py"
    return tests / parts[0] / f"test_{'_'.join(parts[1:])}.py"


def test_the_expected_test_file_follows_the_package():
    assert expected_test_file(PACKAGE / "tracking" / "logger.py") == ROOT / "tests" / "tracking" / "test_logger.py"
    assert expected_test_file(PACKAGE / "explorer" / "charts" / "compare.py") == \
        ROOT / "tests" / "explorer" / "test_charts_compare.py"
    assert expected_test_file(PACKAGE / "errors.py") == ROOT / "tests" / "test_errors.py"
    assert expected_test_file(PACKAGE / "cli.py") == ROOT / "tests" / "cli" / "test_cli.py"
    assert expected_test_file(PACKAGE / "jobs" / "__init__.py") is None


def test_every_module_has_its_own_test_file():
    missing = [f"{path.relative_to(ROOT)}: {expected.relative_to(ROOT)}" for path in sorted(PACKAGE.rglob("*.py"))
               if (expected := expected_test_file(path)) is not None and not expected.exists()]
    assert not missing, "modules without their test file:\n" + "\n".join(missing)
