# Starts `fluidcloud dev` on free 127.0.0.1 ports with a temporary data folder, for the
# scripts that drive it from outside (generated-client-test, schemathesis-test).
# Needs services.sh sourced first. Sets DEV_PID, DEV_DATA, DEV_API_URL, DEV_KEY;
# stop_dev stops it by its PID and removes the folder (call it from an EXIT trap).

start_dev() {
  # The binary as `cargo test --workspace` builds it, so nothing is compiled twice;
  # FLUIDCLOUD_DEV_BIN names an already built one instead.
  local bin=${FLUIDCLOUD_DEV_BIN:-} api_port files_port s3_port
  if [ -z "$bin" ]; then
    cargo test -q --workspace --no-run
    bin=$PWD/target/debug/fluidcloud
  fi
  DEV_DATA=$(mktemp -d /tmp/fc-dev.XXXXXX)
  api_port=$(free_port); files_port=$(free_port); s3_port=$(free_port)
  "$bin" dev --data-dir "$DEV_DATA" --api-addr "127.0.0.1:$api_port" \
    --files-addr "127.0.0.1:$files_port" --s3-addr "127.0.0.1:$s3_port" \
    >"$DEV_DATA/dev.out" 2>"$DEV_DATA/dev.err" &
  DEV_PID=$!
  DEV_API_URL="http://127.0.0.1:$api_port"
  for _ in $(seq 1 200); do
    curl -fsS "$DEV_API_URL/healthz" >/dev/null 2>&1 && break
    kill -0 "$DEV_PID" 2>/dev/null || { cat "$DEV_DATA/dev.err" >&2; echo "fluidcloud dev exited" >&2; return 1; }
    sleep 0.05
  done
  curl -fsS "$DEV_API_URL/healthz" >/dev/null || { echo "fluidcloud dev did not answer" >&2; return 1; }
  DEV_KEY=$(cat "$DEV_DATA/dev-key")
}

stop_dev() {
  if [ -n "${DEV_PID:-}" ]; then
    kill -TERM "$DEV_PID" 2>/dev/null && wait "$DEV_PID" 2>/dev/null || true
    DEV_PID=
  fi
  [ -n "${DEV_DATA:-}" ] && rm -rf "$DEV_DATA"
  DEV_DATA=
}
