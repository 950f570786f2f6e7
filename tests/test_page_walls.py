"""Pages reach runs only through the run store (`app_pages.common.run_store()`, a
`tracking.RunStore`): no page imports MLflow, holds a client or calls a client's methods. Alerts
show messages as text, not markdown."""

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


# ---- alerts show messages as text ------------------------------------------------------

ALERTS = {"error", "warning", "toast", "info", "success"}
# A value whose name says it holds a message or a person's text; in an alert it goes through
# plain_text.markdown, since messages quote what people typed (paths, names, settings) and
# Streamlit renders alerts as markdown.
MESSAGE_LIKE = ("error", "problem", "message", "warning", "name")


def unescaped_alert_texts(path: Path) -> list[str]:
    found = []

    def escaped(node) -> bool:
        return isinstance(node, ast.Call) and ast.unparse(node.func) == "plain_text.markdown"

    def message_like(node) -> bool:
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "str":
            return True
        if isinstance(node, ast.BoolOp):
            return any(message_like(value) for value in node.values)
        return isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)) and ast.unparse(node).endswith(MESSAGE_LIKE)

    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ALERTS
                and node.args):
            continue
        text = node.args[0]
        parts = [value.value for value in text.values if isinstance(value, ast.FormattedValue)] \
            if isinstance(text, ast.JoinedStr) else [text]
        found += [f"{path.name}:{node.lineno}: {ast.unparse(part)}" for part in parts
                  if not escaped(part) and message_like(part)]
    return found


def test_the_check_sees_a_message_shown_as_markdown(tmp_path):
    page = tmp_path / "page.py"
    page.write_text("st.error(str(error))\nst.toast(f'Not launched: {error}')\nst.warning(job.error)\n"
                    "st.error(plain_text.markdown(error))\nst.info('A constant.')\n"
                    "st.toast(f'Queued {plain_text.markdown(name)} at {count}')\nst.success(f'{run.name or x}')\n")
    assert [line.split(":")[1] for line in unescaped_alert_texts(page)] == ["1", "2", "3", "7"]


def test_pages_show_messages_in_alerts_as_text_not_markdown():
    found = [use for path in sorted(PAGES.rglob("*.py")) for use in unescaped_alert_texts(path)]
    assert not found, "pass these through plain_text.markdown:\n" + "\n".join(found)


# ---- short files: pages lay out, cnnkit's modules hold one concept each -----------------

ROOT = PAGES.parent
PAGE_LINES = 250  # a page, or a panel module a page composes, and the app's entry
MODULE_LINES = 500  # a cnnkit module


def line_count(path: Path) -> int:
    return len(path.read_text().splitlines())


def test_every_page_and_cnnkit_module_is_short():
    walls = [(path, PAGE_LINES) for path in [*sorted(PAGES.glob("*.py")), ROOT / "streamlit_app.py"]]
    walls += [(path, MODULE_LINES) for path in sorted((ROOT / "cnnkit").rglob("*.py"))]
    too_long = [f"{path.relative_to(ROOT)}: {line_count(path)} lines (at most {limit})"
                for path, limit in walls if line_count(path) > limit]
    assert len(walls) > 50 and not too_long, "\n".join(too_long)

