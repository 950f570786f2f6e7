"""MLflow's own provenance tags on every run, which its UI and `search_runs` read: who ran it (the
team server's login, else this machine's user), from what, and at which commit. cnnkit's own
`cnnkit.git_commit` (with "-dirty") stays beside them."""

import getpass
import sys
from pathlib import Path

from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT, MLFLOW_SOURCE_NAME, MLFLOW_SOURCE_TYPE, MLFLOW_USER

import cnnkit.tracking.store_address as store_address


def user() -> str:
    """The tracking server's login when one is set (team mode), else this machine's user."""
    login = store_address.login()
    if login:
        return login[0]
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container's uid with no name
        return "unknown"


def source(argv: list[str]) -> tuple[str, str]:
    """(mlflow.source.name, mlflow.source.type) of the process `argv` started: the command line's
    subcommand ("python -m cnnkit train"; a runner's worker is a JOB), the app, else the script."""
    program = Path(argv[0]) if argv else Path("")
    if program.name == "__main__.py" and program.parent.name == "cnnkit":
        command = argv[1] if len(argv) > 1 and not argv[1].startswith("-") else ""
        return f"python -m cnnkit {command}".rstrip(), "JOB" if command == "worker" else "LOCAL"
    if "streamlit" in program.name or program.parent.name == "streamlit":
        return "cnnkit app (streamlit_app.py)", "LOCAL"
    return program.name or "unknown", "LOCAL"


def mlflow_tags(commit: str, argv: list[str] | None = None) -> dict[str, str]:
    """The tags for a new run; `commit` is cnnkit's (a "-dirty" suffix dropped, "unknown" left out)."""
    name, kind = source(sys.argv if argv is None else argv)
    tags = {MLFLOW_USER: user(), MLFLOW_SOURCE_NAME: name, MLFLOW_SOURCE_TYPE: kind}
    if commit != "unknown":
        tags[MLFLOW_GIT_COMMIT] = commit.removesuffix("-dirty")
    return tags
