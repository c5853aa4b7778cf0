#!/usr/bin/env bash
# Issue 5's figures: messages accepted per second over SMTP and their latency, 4 KB messages,
# at CONCURRENCY 1 and 16, against a release `mailroom serve` on the embedded default or
# Postgres (fsync on) + Redis; then Postfix's smtp-source against the same server.
#
#   bash bench/smtp.sh sqlite|postgres
#
# MESSAGES (5000), SIZE (4096), MAILBOXES (100); PG_URL_PARAMS is appended to the Postgres URL
# (e.g. '?sslmode=disable': sqlx uses TLS whenever the server offers it). smtp-source comes
# from Debian's postfix package, unpacked (not installed) into target/postfix: no MTA is
# installed.
cd "$(dirname "$0")/.."
MESSAGES=${MESSAGES:-5000} SIZE=${SIZE:-4096} MAILBOXES=${MAILBOXES:-100}
export SIZE
SMTP_PORT=${SMTP_PORT:-12525}
EXTRA_ENV="MAILROOM_SMTP_LISTEN=127.0.0.1:$SMTP_PORT MAILROOM_SMTP_AUTHENTICATE=false"
source bench/lib.sh
for c in 1 16; do
  out=$(env "${env_args[@]}" "$BIN" bench smtp --server "127.0.0.1:$SMTP_PORT" --messages "$MESSAGES" --size "$SIZE" --concurrency "$c" --mailboxes "$MAILBOXES")
  echo "$out" | jq -c '{backend, messages, message_bytes, concurrency, mailboxes, per_sec, p50_ms, p99_ms}'
  rcpt=$(echo "$out" | jq -r .rcpt_example)
done
src=target/postfix/usr/sbin/smtp-source
if [ ! -x "$src" ]; then
  mkdir -p target/postfix && (cd target/postfix && apt-get download postfix >/dev/null 2>&1 && dpkg -x postfix_*.deb .)
fi
if [ -x "$src" ]; then
  for c in 1 16; do
    t0=$(date +%s.%N)
    LD_LIBRARY_PATH=target/postfix/usr/lib/postfix "$src" -c -l "$SIZE" -m "$MESSAGES" -s "$c" -f bench@sender.example -t "$rcpt" "127.0.0.1:$SMTP_PORT" >/dev/null
    t1=$(date +%s.%N)
    awk -v n="$MESSAGES" -v c="$c" -v a="$t0" -v b="$t1" 'BEGIN {printf "smtp-source -s %d -l %s: %d messages in %.2f s = %.0f messages/s\n", c, ENVIRON["SIZE"], n, b-a, n/(b-a)}'
  done
else
  echo "smtp-source not available (apt-get download postfix failed)"
fi
