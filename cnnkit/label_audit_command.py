"""`python -m cnnkit label-audit`: k fold runs of a config (`experiments.label_audit`), then the training
examples whose given label the out-of-fold probabilities doubt most: the top ones printed, every suspect
in a CSV as Inspect's label-issues export writes it (`explorer.label_issues.to_csv`), so
`--set exclude_examples=@FILE` takes it back."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cnnkit.config import TrainConfig

SHOWN_COLUMNS = ["rank", "position", "id", "given_label", "suggested_label", "score"]


def add_arguments(command: argparse.ArgumentParser) -> None:
    """The audit's own options (the config's are `train`'s)."""
    command.add_argument("--folds", type=int, default=3, help="fold runs, each without a fold of the training "
                         "examples (default 3)")
    command.add_argument("--name", help="the audit's name (default: its architecture and dataset)")
    command.add_argument("--parallel", type=int, default=1, help="fold runs training at once")
    command.add_argument("--out", help="CSV of every suspect (default: label_audit_AUDIT_ID.csv)")
    command.add_argument("--top", type=int, default=20, help="suspects printed (default 20)")


def run_label_audit(args: argparse.Namespace, base: TrainConfig, server_paths) -> int:
    """Train the folds (progress on stderr), log each fold's held-out predictions on its run, write the
    CSV, print the top suspects and a last JSON line. Exit status 1 when a fold did not finish."""
    from cnnkit.experiments import LabelAuditLaunch, plan_label_audit
    from cnnkit.explorer import label_issues
    from cnnkit.jobs import JobManager
    from cnnkit.tracking import RunStore

    audit = plan_label_audit(base, args.folds, args.name)
    manager = JobManager(tracking_uri=args.tracking_uri, max_concurrent=max(1, args.parallel),
                         server_paths=server_paths)
    print(f"label audit {audit.audit_id}: {audit.folds} fold runs over {len(audit.ids):,} training examples",
          file=sys.stderr, flush=True)
    try:
        launch = LabelAuditLaunch(audit, manager)
        progress = launch.follow(lambda line: print(line, file=sys.stderr, flush=True))
        summary = {"label_audit_id": audit.audit_id, "folds": audit.folds, "finished": progress.finished}
        if progress.finished < progress.total:
            print(json.dumps(summary))
            return 1
        found = launch.collect(RunStore(args.tracking_uri))
    finally:
        manager.shutdown()
    table = label_issues.audit_issues(found)
    out = Path(args.out or f"label_audit_{audit.audit_id}.csv")
    out.write_bytes(label_issues.to_csv(table))
    print(f"{len(table):,} suspected label errors among {len(found.ids):,} training examples; all in {out}",
          file=sys.stderr)
    print(table.loc[:, SHOWN_COLUMNS].head(args.top).to_string(index=False, float_format="{:.4f}".format))
    print(json.dumps({**summary, "training_examples": len(found.ids), "suspects": len(table), "csv": str(out)}))
    return 0
