"""Which server paths a config may name: `ServerPaths`, the check every config that will train
passes (confined to allowed folders, and off unless the app is bound to localhost or the operator
turns it on; any path for the operator's own command line)."""

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from cnnkit.config.settings import setting_error
from cnnkit.datasets import DATA_DIR_VARIABLE
from cnnkit.errors import InputError

ALLOW_SERVER_PATHS_VARIABLE = "CNNKIT_ALLOW_SERVER_PATHS"  # "1": visitors may name server paths on any address
DATA_ROOTS_VARIABLE = "CNNKIT_DATA_ROOTS"  # more folders visitors may name paths in (os.pathsep-separated)
LOCAL_ADDRESSES = frozenset({"localhost", "127.0.0.1", "::1"})


def _is_on(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class ServerPaths:
    """Where on the server a config's "Path on this machine" may point: the one check every config
    that will train passes (`confine`; the job manager calls it on every job, the command line and
    a cluster's worker on theirs), under one policy decided once per process.

    `roots` None: anywhere (`anywhere`: the operator's own command line or code). Else, when
    `open_to_visitors`, paths anywhere under `roots`; otherwise only under `uploads` (where the app
    keeps uploaded datasets, whose paths it fills in itself).
    """

    open_to_visitors: bool
    uploads: Path | None = None
    roots: tuple[Path, ...] | None = None

    @classmethod
    def for_app(cls, server_address: str | None, uploads: str | os.PathLike) -> "ServerPaths":
        """The policy for an app served on `server_address` (Streamlit's `server.address`): open
        when that is localhost or CNNKIT_ALLOW_SERVER_PATHS is on; roots are the uploads folder,
        CNNKIT_DATA_DIR and the folders in CNNKIT_DATA_ROOTS."""
        open_to_visitors = (server_address or "").strip() in LOCAL_ADDRESSES or _is_on(
            os.environ.get(ALLOW_SERVER_PATHS_VARIABLE))
        extra = [os.environ.get(DATA_DIR_VARIABLE, ""), *os.environ.get(DATA_ROOTS_VARIABLE, "").split(os.pathsep)]
        roots = [Path(uploads), *(Path(folder).expanduser() for folder in extra if folder.strip())]
        return cls(open_to_visitors, Path(uploads), tuple(dict.fromkeys(root.resolve() for root in roots)))

    @classmethod
    def anywhere(cls) -> "ServerPaths":
        """The operator's own policy (the command line, their code): any path, still one that leads somewhere."""
        return cls(True)

    def confine(self, cfg):
        """`cfg` (a TrainConfig: not imported, config's loaders import this module) as it is, once its dataset path is one this policy allows (see `check`)."""
        if cfg.dataset_path:
            self.check(cfg.dataset_path)
        return cfg

    def check(self, path: str) -> Path:
        """`path` resolved (symlinks followed), or InputError naming the "Path on this machine"
        setting when it lies outside the allowed folders, or is a loop of symbolic links. Whether
        it exists is not checked, so the answer never tells a visitor what exists outside them."""
        try:
            resolved = Path(os.path.realpath(Path(path).expanduser()))  # a loop stays unresolved: no error here
        except (OSError, ValueError) as err:  # a NUL byte, a name too long
            raise setting_error("dataset_path", f"{path!r} is not a path this machine can read ({err}).") from None
        if self.roots is not None:
            allowed = self.roots if self.open_to_visitors else (self.uploads.resolve(),)
            if not any(resolved == root or root in resolved.parents for root in allowed):
                raise self._outside(path)
        try:
            resolved.stat()
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise setting_error("dataset_path", f"{path} is a loop of symbolic links that leads to no file "
                                                    "or folder.") from None
        return resolved

    def _outside(self, path: str) -> InputError:
        if not self.open_to_visitors:
            return setting_error("dataset_path", f"{path} is not an upload, and paths on this machine are off because "
                                                 "the app is not served on localhost: upload the file instead (the "
                                                 f"operator can set {ALLOW_SERVER_PATHS_VARIABLE}=1).")
        return setting_error("dataset_path", f"{path} is outside the folders this app reads from: "
                                             f"{', '.join(map(str, self.roots))} (the operator can add folders "
                                             f"with {DATA_ROOTS_VARIABLE}).")

    def to_dict(self) -> dict:
        """As plain values, for a job handed to another process (`runner.JobSpec`)."""
        return {"open_to_visitors": self.open_to_visitors, "uploads": None if self.uploads is None else str(self.uploads),
                "roots": None if self.roots is None else [str(root) for root in self.roots]}

    @classmethod
    def from_dict(cls, values: dict) -> "ServerPaths":
        uploads, roots = values.get("uploads"), values.get("roots")
        return cls(bool(values["open_to_visitors"]), None if uploads is None else Path(uploads),
                   None if roots is None else tuple(map(Path, roots)))
