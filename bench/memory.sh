#!/usr/bin/env bash
# Issue 12's memory figure: the server's peak resident memory while SESSIONS connections each
# send one message at the size limit at once (50 sessions x 50 MiB by default), against a
# release `mailroom serve` on the embedded default or Postgres.
#
#   bash bench/memory.sh sqlite|postgres
#
# SESSIONS (50), SIZE (52428000: just under the 50 MiB limit); BIN picks the binary (for an
# A/B against another build). Prints the bench's JSON line and the server's VmHWM.
cd "$(dirname "$0")/.."
SESSIONS=${SESSIONS:-50} SIZE=${SIZE:-52428000}
SMTP_PORT=${SMTP_PORT:-12525}
EXTRA_ENV="${MEMORY_ENV:-} MAILROOM_SMTP_LISTEN=127.0.0.1:$SMTP_PORT MAILROOM_SMTP_AUTHENTICATE=false MAILROOM_SMTP_MAX_CONNECTIONS_PER_IP=$((SESSIONS + 10)) MAILROOM_SMTP_DEDUP_WINDOW_SECS=0"
source bench/lib.sh
grep VmHWM "/proc/$server_pid/status" | sed 's/^/before: /'
out=$(env "${env_args[@]}" "$BIN" bench smtp --server "127.0.0.1:$SMTP_PORT" --messages "$SESSIONS" \
  --size "$SIZE" --concurrency "$SESSIONS" --mailboxes "$SESSIONS")
echo "$out" | jq -c '{backend, messages, message_bytes, concurrency, per_sec, p50_ms, p99_ms}'
grep VmHWM "/proc/$server_pid/status" | sed 's/^/server peak: /'
