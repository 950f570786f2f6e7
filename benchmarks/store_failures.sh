#!/bin/bash
# What a user sees, and how long it takes, when the tracking store or the disk fails a run (issue 19,
# items 2-4): a store missing a table, another program's SQLite file, an empty mlflow.db, the
# artifact folder on a full 1 MB tmpfs (needs root to mount), SIGTERM while a write is retried, and
# a resumed run whose checkpoint is ahead of its store. Run from the project root:
#     bash benchmarks/store_failures.sh
set -u
PY="$PWD/.venv/bin/python"; export PYTHONPATH=$PWD CNNKIT_CHECKPOINT_SECONDS=0
W=$(mktemp -d /tmp/store_failures.XXXX); cd "$W"
uptime
echo "== item 4: a store missing table metrics"
mkdir -p s4; $PY -c "from cnnkit import tracking; tracking.RunStore('sqlite:///$W/s4/mlflow.db')"
$PY -c "import sqlite3; c = sqlite3.connect('$W/s4/mlflow.db'); c.execute('DROP TABLE metrics'); c.commit()"
/usr/bin/time -f "%e s" $PY -m cnnkit train --dataset digits --epochs 1 --tracking-uri sqlite:///$W/s4/mlflow.db 2>&1 | grep -v "^WARNING: All log\|^W0000\|^I0000\|^E0000" | tail -3
echo "== item 4: another program's SQLite file, and an empty mlflow.db"
mkdir -p t e; $PY -c "import sqlite3; c = sqlite3.connect('t/mlflow.db'); c.execute('CREATE TABLE t (x)'); c.commit()"; : > e/mlflow.db
/usr/bin/time -f "%e s" $PY -m cnnkit list models --tracking-uri sqlite:///$W/t/mlflow.db 2>&1 | tail -3
/usr/bin/time -f "%e s" $PY -m cnnkit list models --tracking-uri sqlite:///$W/e/mlflow.db 2>&1 | tail -3
echo "== item 3: artifact folder on a full 1 MB tmpfs"
mkdir -p a/artifacts
if mount -t tmpfs -o size=1M tmpfs a/artifacts; then
(dd if=/dev/zero of=a/artifacts/filler bs=4096 2>/dev/null; true)
/usr/bin/time -f "%e s" $PY -m cnnkit train --dataset digits --epochs 1 --tracking-uri sqlite:///$W/a/mlflow.db > a/out.txt 2> a/err.txt; echo "exit $?"
grep -v "^WARNING: All log\|^W0000\|^I0000\|^E0000\|^\[" a/err.txt | tail -3; tail -1 a/out.txt
RUN=$($PY -c "import json; print(json.loads(open('a/out.txt').read().splitlines()[-1])['run_id'])")
$PY -c "from cnnkit import tracking; r = tracking.RunStore('sqlite:///$W/a/mlflow.db').run('$RUN'); print(r.status, '| cnnkit.error =', r.tags.get('cnnkit.error'))"
umount --lazy a/artifacts
else echo "skipped: can't mount a tmpfs here (needs root)"; fi
echo "== item 3: SIGTERM while an artifact write is retried (every artifact write refused as 'database is locked')"
cat > refuse.py <<'PYEOF'
import sys
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository
def busy(*args, **kwargs):
    print("artifact write refused", file=sys.stderr, flush=True)
    raise MlflowException("(sqlite3.OperationalError) database is locked")
LocalArtifactRepository.log_artifact = busy
from cnnkit.cli import main
sys.exit(main(sys.argv[1:]))
PYEOF
$PY refuse.py train --dataset digits --epochs 1 --tracking-uri sqlite:///$W/k/mlflow.db > k.out 2> k.err & PID=$!
until grep -q "artifact write refused" k.err 2>/dev/null; do sleep 0.2; done; sleep 3
START=$(date +%s.%N); kill -TERM $PID; wait $PID; CODE=$?; END=$(date +%s.%N)
echo "exit $CODE, $(echo "$END - $START" | bc) s from SIGTERM to exit"; grep "^run " k.err; tail -1 k.out
echo "== item 2: a resumed run whose checkpoint is ahead of its store (as one written before the fix could be)"
RUN=$($PY - <<PYEOF 2>/dev/null
import sqlite3, threading
from cnnkit.config import TrainConfig
from cnnkit.training import train
cancel = threading.Event()
result = train(TrainConfig(dataset="digits", epochs=3, batch_size=128), tracking_uri="sqlite:///$W/mlflow.db", cancel=cancel,
               on_progress=lambda p: p.event == "epoch" and p.epoch == 2 and cancel.set())
with sqlite3.connect("$W/mlflow.db") as c:
    c.execute("DELETE FROM metrics WHERE run_uuid = ? AND step = 2 AND key IN ('loss','accuracy','val_loss','val_accuracy','lr','epoch_seconds')", (result.run_id,))
print(result.run_id)
PYEOF
)
echo "run $RUN"; /usr/bin/time -f "%e s" $PY -m cnnkit resume $RUN --tracking-uri sqlite:///$W/mlflow.db 2>&1 | grep -v "^W0000\|^I0000\|^WARNING: All\|^\[\|^epoch "
$PY -c "from cnnkit import tracking; print('cnnkit.missing_epochs =', tracking.RunStore('sqlite:///$W/mlflow.db').run('$RUN').tags.get('cnnkit.missing_epochs'))"
uptime
cd /; rm -rf "$W"
