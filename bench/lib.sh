# Shared by the benchmark scripts: starts a release `mailroom serve` on a fresh data directory
# (SQLite, or a fresh Postgres database with Redis) and logs in a tenant owner.
# Sets API, JWT (owner's access token); cleans up on exit. Extra env for the server: EXTRA_ENV.
set -euo pipefail
backend=${1:-sqlite}
PORT=${PORT:-18080}
BIN=${BIN:-target/release/mailroom}
for tool in curl jq; do command -v $tool >/dev/null || { echo "$tool is needed"; exit 1; }; done
[ -x "$BIN" ] || cargo build --release
dir=$(mktemp -d)
env_args=(MAILROOM_DATA_DIR="$dir" MAILROOM_API_LISTEN="127.0.0.1:$PORT" MAILROOM_LOG=warn
  MAILROOM_BOOTSTRAP_ADMIN_EMAIL=bench@example.com MAILROOM_BOOTSTRAP_ADMIN_PASSWORD=bench-password-1)
if [ "$backend" = postgres ]; then
  db=mailroom_bench_$$
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db"
  env_args+=(MAILROOM_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db${PG_URL_PARAMS:-}" MAILROOM_REDIS_URL=redis://127.0.0.1:6379
    MAILROOM_REDIS_KEY_PREFIX="bench-$$:")
fi
env "${env_args[@]}" ${EXTRA_ENV:-} "$BIN" serve &
server_pid=$!
analyze_pid=
if [ "$backend" = postgres ] && [ "${PG_MAINTENANCE:-0}" = 1 ]; then
  # PG_MAINTENANCE=1 does autovacuum's work from outside (ANALYZE every 10 s, and VACUUM,
  # ANALYZE and CHECKPOINT before reads are measured). By default Mailroom is measured as it
  # runs on a Postgres without autovacuum: it keeps the statistics of its tables itself.
  (while sleep 10; do psql -h 127.0.0.1 -U postgres -d "$db" -qc ANALYZE 2>/dev/null; done) &
  analyze_pid=$!
fi
# Before measuring reads on tables that no longer grow: end the ANALYZE loop, then do what
# autovacuum and the checkpointer would have done after a bulk load (statistics, hint bits and
# the visibility map, dirty pages written), so the first measurement does not pay for them.
stop_analyze() {
  [ -n "$analyze_pid" ] && kill "$analyze_pid" 2>/dev/null
  analyze_pid=
  if [ "$backend" = postgres ] && [ "${PG_MAINTENANCE:-0}" = 1 ]; then
    psql -h 127.0.0.1 -U postgres -d "$db" -qc "VACUUM (ANALYZE)" -qc CHECKPOINT
  fi
}
bench_cleanup() {
  [ -n "$analyze_pid" ] && kill "$analyze_pid" 2>/dev/null
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  if [ "$backend" = postgres ]; then psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"; fi
  rm -rf "$dir"
}
trap bench_cleanup EXIT
API="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do curl -sf "$API/healthz" >/dev/null && break; sleep 0.1; done
j='content-type: application/json'
admin=$(curl -sSf "$API/v1/auth/login" -H "$j" -d '{"email":"bench@example.com","password":"bench-password-1"}' | jq -r .access_token)
curl -sSf "$API/v1/tenants" -H "authorization: Bearer $admin" -H "$j" \
  -d '{"name":"Bench","slug":"bench","owner":{"email":"owner@bench.example","password":"owner-password-1"}}' >/dev/null
JWT=$(curl -sSf "$API/v1/auth/login" -H "$j" -d '{"email":"owner@bench.example","password":"owner-password-1"}' | jq -r .access_token)
