# Sourced by scripts that test a live server: `start_server WORKSPACE LOG [TOKEN]` starts
# `target/release/xsignal serve` on a free loopback port (with TOKEN as its bearer token, else none;
# no webhook delivery), waits until it listens and sets `server` (its pid) and `base` (its URL).
# `stop_server` stops it.
server=""
base=""

start_server() {
  local workspace="$1" log="$2" token="${3:-}"
  if [ -n "$token" ]; then
    XSIGNAL_TOKEN="$token" target/release/xsignal serve --workspace "$workspace" \
      --bind 127.0.0.1:0 --no-deliver >"$log" &
  else
    env -u XSIGNAL_TOKEN target/release/xsignal serve --workspace "$workspace" \
      --bind 127.0.0.1:0 --no-deliver >"$log" &
  fi
  server=$!
  for _ in $(seq 100); do
    grep -q '^listening on ' "$log" 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || { echo "xsignal serve did not start" >&2; return 1; }
    sleep 0.1
  done
  base="$(sed -n 's/^listening on //p' "$log")"
  [ -n "$base" ] || { echo "xsignal serve did not report its address" >&2; return 1; }
}

stop_server() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=""
  fi
}
