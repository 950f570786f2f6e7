"""Pages reach runs only through the run store (`app_pages.common.run_store()`, a
`tracking.RunStore`): no page imports MLflow, holds a client or calls a client's methods."""

import ast
from pathlib import Path

from mlflow.tracking import MlflowClient

from cnnkit.tracking import RunStore

PAGES = Path(__file__).resolve().parent.parent / "app_pages"
# MlflowClient's methods the store doesn't share a name with: a call to one is a call to a client.
CLIENT_ONLY_METHODS = {name for name in dir(MlflowClient)
                       if not name.startswith("_") and callable(getattr(MlflowClient, name))} - set(dir(RunStore))
CLIENT_MAKERS = {"MlflowClient", "make_client", "mlflow_client"}


def mlflow_uses(path: Path) -> list[str]:
    uses = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        where = f"{path.name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            uses += [f"{where}: import {alias.name}" for alias in node.names if alias.name.split(".")[0] == "mlflow"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "mlflow":
            uses.append(f"{where}: from {node.module} import ...")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CLIENT_ONLY_METHODS:
            uses.append(f"{where}: .{node.func.attr}()")
        elif isinstance(node, ast.Attribute) and node.attr in CLIENT_MAKERS:
            uses.append(f"{where}: .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in CLIENT_MAKERS:
            uses.append(f"{where}: {node.id}")
    return uses


def test_the_check_sees_a_client_in_a_page(tmp_path):
    page = tmp_path / "page.py"
    page.write_text("from mlflow.tracking import MlflowClient\nimport mlflow\n"
                    "run = tracking.make_client(uri).get_run(run_id)\nclient.search_runs([])\n")
    assert len(mlflow_uses(page)) == 5
    assert "get_run" in CLIENT_ONLY_METHODS and "runs_frame" not in CLIENT_ONLY_METHODS


def test_no_page_touches_mlflow_or_its_client():
    uses = [use for path in sorted(PAGES.rglob("*.py")) for use in mlflow_uses(path)]
    assert not uses, "pages must use app_pages.common.run_store():\n" + "\n".join(uses)
