#!/usr/bin/env bash
# Requests per second of GET /v1/me with an access token and with an API key (wrk, 50
# connections), on the embedded default or on Postgres + Redis, against a release build.
#
#   bash bench/me.sh sqlite
#   bash bench/me.sh postgres   # needs postgres://postgres@127.0.0.1:5432 and redis://127.0.0.1:6379
#
# Set DURATION (default 15s), CONNECTIONS (50), THREADS (2), PORT (18080), BIN (the binary).
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-sqlite}
DURATION=${DURATION:-15s} CONNECTIONS=${CONNECTIONS:-50} THREADS=${THREADS:-2} PORT=${PORT:-18080}
BIN=${BIN:-target/release/mailroom}
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 1; }
[ -x "$BIN" ] || cargo build --release
dir=$(mktemp -d)
env_args=(MAILROOM_DATA_DIR="$dir" MAILROOM_API_LISTEN="127.0.0.1:$PORT" MAILROOM_LOG=warn
  MAILROOM_BOOTSTRAP_ADMIN_EMAIL=bench@example.com MAILROOM_BOOTSTRAP_ADMIN_PASSWORD=bench-password-1)
if [ "$backend" = postgres ]; then
  db=mailroom_bench_$$
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db"
  env_args+=(MAILROOM_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" MAILROOM_REDIS_URL=redis://127.0.0.1:6379
    MAILROOM_REDIS_KEY_PREFIX="bench-$$:")
fi
env "${env_args[@]}" "$BIN" serve &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [ "$backend" = postgres ] && psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"
  rm -rf "$dir"
}
trap cleanup EXIT
api="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do curl -sf "$api/healthz" >/dev/null && break; sleep 0.1; done
j='content-type: application/json'
admin=$(curl -sSf "$api/v1/auth/login" -H "$j" -d '{"email":"bench@example.com","password":"bench-password-1"}' | jq -r .access_token)
curl -sSf "$api/v1/tenants" -H "authorization: Bearer $admin" -H "$j" \
  -d '{"name":"Bench","slug":"bench","owner":{"email":"owner@bench.example","password":"owner-password-1"}}' >/dev/null
jwt=$(curl -sSf "$api/v1/auth/login" -H "$j" -d '{"email":"owner@bench.example","password":"owner-password-1"}' | jq -r .access_token)
key=$(curl -sSf "$api/v1/api-keys" -H "authorization: Bearer $jwt" -H "$j" -d '{"name":"bench","scopes":["users:read"]}' | jq -r .key)
echo "backend=$backend connections=$CONNECTIONS threads=$THREADS duration=$DURATION cores=$(nproc)"
for kind in jwt key; do
  token=$jwt; [ "$kind" = key ] && token=$key
  curl -sSf "$api/v1/me" -H "authorization: Bearer $token" >/dev/null
  echo "--- GET /v1/me with $kind"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "authorization: Bearer $token" "$api/v1/me" \
    | grep -E "Requests/sec|Latency|50%|99%|Non-2xx|Socket errors"
done
