"""One route to the tracking store: outside cnnkit/tracking/ no module of cnnkit or the app's pages
names MLflow's client (`MlflowClient`, `mlflow.tracking`, `mlflow.client`) or the factory that
makes one (`make_client`); they all go through `tracking.RunStore`."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENT_NAMES = {"MlflowClient", "make_client"}
CLIENT_MODULES = ("mlflow.tracking", "mlflow.client")


def _names_client_module(dotted: str) -> bool:
    return any(dotted == module or dotted.startswith(module + ".") for module in CLIENT_MODULES)


def client_uses(path: Path, root: Path) -> list[str]:
    """Where the module at `path` names the client, its module or its factory, as 'file:line: what'."""
    uses = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            uses += [f"{where}: import {alias.name}" for alias in node.names if _names_client_module(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            named = {alias.name for alias in node.names}
            if _names_client_module(node.module or "") or (node.module == "mlflow" and named & {"tracking", "client"}) \
                    or named & CLIENT_NAMES:
                uses.append(f"{where}: from {node.module} import {', '.join(sorted(named))}")
        elif isinstance(node, ast.Name) and node.id in CLIENT_NAMES:
            uses.append(f"{where}: {node.id}")
        elif isinstance(node, ast.Attribute) and (node.attr in CLIENT_NAMES or _names_client_module(ast.unparse(node))):
            uses.append(f"{where}: {ast.unparse(node)}")
    return uses


def client_uses_outside_tracking(root: Path) -> list[str]:
    """Every naming of the client in `root`'s cnnkit/ and app_pages/, cnnkit/tracking/ left out."""
    paths = [path for folder in ("cnnkit", "app_pages") for path in sorted((root / folder).rglob("*.py"))
             if (root / "cnnkit" / "tracking") not in path.parents]
    return [use for path in paths for use in client_uses(path, root)]


def test_the_check_names_each_way_to_a_client(tmp_path):
    (tmp_path / "cnnkit" / "tracking").mkdir(parents=True)
    (tmp_path / "app_pages").mkdir()
    (tmp_path / "cnnkit" / "tracking" / "inside.py").write_text("from mlflow.tracking import MlflowClient\n")
    (tmp_path / "cnnkit" / "jobs.py").write_text(
        "import mlflow.tracking\nfrom mlflow import client\nfrom cnnkit.tracking import make_client\n"
        "store = tracking.make_client(uri)\nrun = mlflow.client.MlflowClient(uri)\n")
    (tmp_path / "app_pages" / "page.py").write_text("from mlflow.client import MlflowClient\nstore = RunStore(uri)\n")
    uses = client_uses_outside_tracking(tmp_path)
    assert {use.split(":")[0] for use in uses} == {"cnnkit/jobs.py", "app_pages/page.py"}
    assert {int(use.split(":")[1]) for use in uses if use.startswith("cnnkit")} == {1, 2, 3, 4, 5}


def test_only_the_tracking_package_holds_a_client():
    uses = client_uses_outside_tracking(ROOT)
    assert not uses, "reach the store through tracking.RunStore, not a client:\n" + "\n".join(uses)
