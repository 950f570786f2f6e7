#!/usr/bin/env bash
# A team tracking server: MLflow's server with a PostgreSQL backend store, an artifact store and its
# basic-auth app (logins, per-experiment permissions), all listening on 127.0.0.1 by default.
#
# Usage: bash scripts/team_server.sh start|stop|status [DIR]
#   DIR (default $CNNKIT_TEAM_DIR, else ./team-server) holds everything: postgres/ (the database
#   cluster), artifacts/ (the shared artifact folder), the generated admin password (admin-password,
#   mode 0600), the database and Flask secrets, logs and pid files. Rerunning `start` on a running
#   server does nothing; on a stopped one it starts it again with its data; `stop` stops both.
# Settings (environment):
#   CNNKIT_TEAM_HOST       address the MLflow server listens on (default 127.0.0.1)
#   CNNKIT_TEAM_PORT       its port (default 5000); PostgreSQL listens on 127.0.0.1 only
#   CNNKIT_TEAM_PG_PORT    PostgreSQL's port (default 5433, not to clash with a system PostgreSQL)
#   CNNKIT_TEAM_ARTIFACTS  where artifacts go (default DIR/artifacts; s3://bucket/prefix for an S3-
#                          compatible store, with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for MinIO
#                          and the like, MLFLOW_S3_ENDPOINT_URL set in this script's environment)
#   CNNKIT_TEAM_WORKERS    MLflow server worker processes (default 4)
#   PYTHON                 the Python with MLflow and psycopg2 (default .venv/bin/python of this checkout)
# PostgreSQL refuses to run as root: as root, its commands run as the `postgres` user (Debian's package
# creates it), which must be able to reach DIR.
set -euo pipefail
root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command="${1:-}"
dir="${2:-${CNNKIT_TEAM_DIR:-$PWD/team-server}}"
host="${CNNKIT_TEAM_HOST:-127.0.0.1}"
port="${CNNKIT_TEAM_PORT:-5000}"
pg_port="${CNNKIT_TEAM_PG_PORT:-5433}"
workers="${CNNKIT_TEAM_WORKERS:-4}"
python="${PYTHON:-$root_dir/.venv/bin/python}"
db_user=mlflow

die() { echo "team_server: $*" >&2; exit 1; }

# Debian puts the server's programs in /usr/lib/postgresql/<version>/bin, outside PATH.
pg_bin() {
  local found
  if command -v pg_ctl >/dev/null 2>&1; then dirname "$(readlink -f "$(command -v pg_ctl)")"; return; fi
  found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -z "$found" ] || [ ! -x "$found/pg_ctl" ]; then
    die "PostgreSQL's server programs (pg_ctl, initdb) are not installed: apt-get install postgresql"
  fi
  echo "$found"
}

# PostgreSQL's own programs, as the postgres user when we are root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

secret() {  # a file holding a generated secret, created once (mode 0600)
  local file="$dir/$1"
  if [ ! -s "$file" ]; then
    (umask 077 && "$python" -c 'import secrets; print(secrets.token_urlsafe(24))' >"$file")
  fi
  cat "$file"
}

mlflow_pid() {  # the running MLflow server's pid, or nothing
  local pid
  pid="$(cat "$dir/mlflow.pid" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
}

pg_running() { [ -f "$dir/postgres/PG_VERSION" ] && as_pg "$bin/pg_ctl" status -D "$dir/postgres" >/dev/null 2>&1; }

start_postgres() {
  local pw
  pw="$(secret db-password)"
  if [ ! -f "$dir/postgres/PG_VERSION" ]; then
    mkdir -p "$dir/postgres"
    # initdb reads the password from a file the server's user can read, removed right after.
    local pwfile="$dir/.initdb-password"
    (umask 077 && printf '%s\n' "$pw" >"$pwfile")
    if [ "$(id -u)" = 0 ]; then
      runuser -u postgres -- test -x "$dir" \
        || die "the postgres user can't reach $dir (PostgreSQL won't run as root): pick a folder it can enter"
      chown -R postgres: "$dir/postgres" "$pwfile"
    fi
    as_pg "$bin/initdb" -D "$dir/postgres" -U "$db_user" --auth=scram-sha-256 --pwfile="$pwfile" \
      -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 || { rm -f "$pwfile"; die "initdb failed, see $dir/initdb.log"; }
    rm -f "$pwfile"
  fi
  if ! pg_running; then
    # TCP on 127.0.0.1 only; no Unix socket (its default folder belongs to the system's PostgreSQL).
    as_pg "$bin/pg_ctl" start -D "$dir/postgres" -w -t 60 -l "$dir/postgres/server.log" \
      -o "-c listen_addresses=127.0.0.1 -p $pg_port -c unix_socket_directories=''" >/dev/null \
      || die "PostgreSQL did not start, see $dir/postgres/server.log"
  fi
  local database
  for database in mlflow mlflow_auth; do
    PGPASSWORD="$pw" "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U "$db_user" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1 \
      || PGPASSWORD="$pw" "$bin/createdb" -h 127.0.0.1 -p "$pg_port" -U "$db_user" "$database"
  done
}

start_mlflow() {
  local pw admin artifacts database pid
  pw="$(secret db-password)"
  admin="$(secret admin-password)"
  artifacts="${CNNKIT_TEAM_ARTIFACTS:-$dir/artifacts}"
  [[ "$artifacts" == *://* ]] || mkdir -p "$artifacts"
  # SQLAlchemy 2.1 reads postgresql:// as psycopg 3: name the driver installed (psycopg2-binary).
  database="postgresql+psycopg2://$db_user@127.0.0.1:$pg_port"
  cat >"$dir/basic_auth.ini" <<EOF
[mlflow]
default_permission = READ
database_uri = $database/mlflow_auth
admin_username = admin
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
# Checking a password (scrypt) costs a CPU for a good part of a second, on every request: a login is
# remembered for 5 minutes per worker (a password changed through the API counts at once on the worker
# that changed it, on the others within those minutes).
auth_cache_ttl_seconds = 300
EOF
  # Secrets go through the environment (readable by this user only), never the command line.
  # The admin password is used when the user store is created (first start) only.
  PGPASSWORD="$pw" MLFLOW_AUTH_CONFIG_PATH="$dir/basic_auth.ini" MLFLOW_AUTH_ADMIN_PASSWORD="$admin" \
    MLFLOW_FLASK_SERVER_SECRET_KEY="$(secret flask-secret)" \
    setsid "$python" -m mlflow server --app-name basic-auth --host "$host" --port "$port" --workers "$workers" \
      --backend-store-uri "$database/mlflow" --serve-artifacts --artifacts-destination "$artifacts" \
      >"$dir/mlflow.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/mlflow.pid"
  for _ in $(seq 1 240); do
    if "$python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
        "http://127.0.0.1:$port/health" 2>/dev/null; then
      return
    fi
    kill -0 "$pid" 2>/dev/null || die "the MLflow server stopped while starting, see $dir/mlflow.log"
    sleep 0.5
  done
  die "the MLflow server did not answer within 120 s, see $dir/mlflow.log"
}

report() {
  echo "MLflow tracking server: http://$host:$port (PostgreSQL on 127.0.0.1:$pg_port, artifacts in ${CNNKIT_TEAM_ARTIFACTS:-$dir/artifacts})"
  echo "admin password: $dir/admin-password (user admin; MLflow reads it only when its user store is created)"
  echo "log in with: MLFLOW_TRACKING_URI=http://$host:$port MLFLOW_TRACKING_USERNAME=admin MLFLOW_TRACKING_PASSWORD=\$(cat $dir/admin-password)"
}

case "$command" in
  start)
    bin="$(pg_bin)"
    [ -x "$python" ] || die "no Python at $python: run bash scripts/setup_venv.sh requirements-team.txt, or set PYTHON"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    start_postgres
    if [ -n "$(mlflow_pid)" ]; then echo "already running (pid $(mlflow_pid))"; else start_mlflow; fi
    report
    ;;
  stop)
    bin="$(pg_bin)"
    [ -d "$dir" ] || die "no team server folder $dir"
    pid="$(mlflow_pid)"
    if [ -n "$pid" ]; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"  # setsid made it a group leader: its workers too
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      if kill -0 "$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
    fi
    rm -f "$dir/mlflow.pid"
    if pg_running; then as_pg "$bin/pg_ctl" stop -D "$dir/postgres" -m fast -w >/dev/null; fi
    echo "stopped"
    ;;
  status)
    bin="$(pg_bin)"
    if [ -n "$(mlflow_pid)" ]; then echo "MLflow: running (pid $(mlflow_pid))"; else echo "MLflow: stopped"; fi
    if pg_running; then echo "PostgreSQL: running"; else echo "PostgreSQL: stopped"; fi
    ;;
  *)
    awk 'NR >= 4 && /^#/ {sub(/^# ?/, ""); print} /^set -euo/ {exit}' "${BASH_SOURCE[0]}" >&2
    exit 2
    ;;
esac
