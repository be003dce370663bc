#!/usr/bin/env bash
# Throwaway services for the demo, the tests and molecule: PostgreSQL, MariaDB and the local
# Connection API server, each a plain process on 127.0.0.1 with its pid in the state directory.
#
#   tools/services.sh start-db DIR              PostgreSQL + MariaDB, credentials in DIR/env.sh
#   tools/services.sh start-server DIR NAME [dbcs-server options...]
#                                               a local API server; DIR/NAME.env holds its URL and key
#   tools/services.sh stop DIR                  stop everything started under DIR, by pid
#   tools/services.sh install-mariadb           apt-get install mariadb-server when it is missing
#
# Must run as root (both databases run as their own system users, as TOOLING.md describes).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
venv=${DBCS_VENV:-$root/.venv}

free_port() {
  "$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

secret() {
  "$venv/bin/python" -c 'import secrets; print(secrets.token_urlsafe(18))'
}

wait_port() {  # wait_port PORT SECONDS
  "$venv/bin/python" - "$1" "$2" <<'EOF'
import socket, sys, time
port, deadline = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF
}

install_mariadb() {
  if command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; then
    return 0
  fi
  echo "services: installing mariadb-server with apt-get" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q mariadb-server >/dev/null 2>&1 || {
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q mariadb-server >/dev/null
  }
}

pg_bindir() {  # where initdb and pg_ctl live
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir
  else
    find /usr/lib/postgresql -maxdepth 3 -name initdb -path '*/bin/*' 2>/dev/null | sort -V | tail -n 1 | xargs -r dirname
  fi
}

install_postgres() {
  [ -n "$(pg_bindir)" ] && return 0
  echo "services: installing postgresql with apt-get" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null 2>&1 || {
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
  }
}

start_postgres() {
  local dir=$1 port pw bindir
  bindir=$(pg_bindir)
  port=$(free_port)
  pw=$(secret)
  mkdir -p "$dir/pg"
  chmod 755 "$dir" "$dir/pg"
  chown postgres: "$dir/pg"
  printf '%s\n' "$pw" >"$dir/pg/pwfile"
  chown postgres: "$dir/pg/pwfile"
  chmod 600 "$dir/pg/pwfile"
  runuser -u postgres -- "$bindir/initdb" -D "$dir/pg/data" -U postgres --pwfile="$dir/pg/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-sync >"$dir/pg/initdb.log" 2>&1
  rm -f "$dir/pg/pwfile"
  runuser -u postgres -- "$bindir/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w \
    -o "-p $port -k $dir/pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  head -n 1 "$dir/pg/data/postmaster.pid" >"$dir/postgres.pid"
  cat >>"$dir/env.sh" <<EOF
export DBCS_PG_HOST=127.0.0.1
export DBCS_PG_PORT=$port
export DBCS_PG_USER=postgres
export DBCS_PG_PASSWORD='$pw'
export DBCS_PG_DATABASE=postgres
EOF
}

start_mariadb() {
  local dir=$1 port pw
  port=$(free_port)
  pw=$(secret)
  mkdir -p "$dir/my"
  chmod 755 "$dir"
  chown mysql: "$dir/my"
  mariadb-install-db --no-defaults --user=mysql --datadir="$dir/my/data" \
    --auth-root-authentication-method=normal --skip-test-db >"$dir/my/install.log" 2>&1
  mariadbd --no-defaults --user=mysql --datadir="$dir/my/data" --port="$port" \
    --bind-address=127.0.0.1 --socket="$dir/my/sock" --pid-file="$dir/my/mariadb.pid" \
    --character-set-server=utf8mb4 --skip-name-resolve --innodb-flush-log-at-trx-commit=2 \
    >"$dir/my/server.log" 2>&1 &
  echo $! >"$dir/mariadb.pid"
  wait_port "$port" 30 || { cat "$dir/my/server.log" >&2; return 1; }
  mariadb --no-defaults --socket="$dir/my/sock" -u root <<EOF
CREATE USER 'dbcs'@'%' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON *.* TO 'dbcs'@'%';
FLUSH PRIVILEGES;
EOF
  cat >>"$dir/env.sh" <<EOF
export DBCS_MY_HOST=127.0.0.1
export DBCS_MY_PORT=$port
export DBCS_MY_USER=dbcs
export DBCS_MY_PASSWORD='$pw'
export DBCS_MY_SOCKET='$dir/my/sock'
EOF
}

start_server() {
  local dir=$1 name=$2 port key
  shift 2
  port=${DBCS_SERVER_PORT:-$(free_port)}
  key=${DBCS_SERVER_KEY:-$(secret)}
  mkdir -p "$dir/$name"
  DBCS_API_KEYS="$key" "$venv/bin/dbcs-server" --host 127.0.0.1 --port "$port" \
    --data-dir "$dir/$name/data" --request-log "$dir/$name/requests.jsonl" "$@" \
    >"$dir/$name/server.log" 2>&1 &
  echo $! >"$dir/$name.pid"
  wait_port "$port" 30 || { cat "$dir/$name/server.log" >&2; return 1; }
  cat >"$dir/$name.env" <<EOF
export DBCS_API_URL=http://127.0.0.1:$port/api/v1
export DBCS_API_KEY='$key'
export DBCS_REQUEST_LOG='$dir/$name/requests.jsonl'
EOF
}

stop_all() {
  local dir=$1 pidfile pid
  [ -d "$dir" ] || return 0
  for pidfile in "$dir"/*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if [ "$(basename "$pidfile")" = postgres.pid ]; then
      runuser -u postgres -- "$(pg_bindir)/pg_ctl" -D "$dir/pg/data" -m immediate stop >/dev/null 2>&1 || true
    elif kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
}

cmd=${1:-}
case "$cmd" in
  install-mariadb) install_mariadb ;;
  start-db)
    dir=${2:?usage: services.sh start-db DIR}
    mkdir -p "$dir"
    : >"$dir/env.sh"
    install_mariadb
    install_postgres
    start_postgres "$dir"
    start_mariadb "$dir"
    ;;
  start-server) start_server "${2:?usage: services.sh start-server DIR NAME [options]}" "${3:?NAME}" "${@:4}" ;;
  stop) stop_all "${2:?usage: services.sh stop DIR}" ;;
  *) sed -n '2,12p' "$0" >&2; exit 2 ;;
esac
