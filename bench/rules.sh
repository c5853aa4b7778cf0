#!/usr/bin/env bash
# Issue 19's figure: messages delivered per second over SMTP with 0, 10 and 100 routing rules
# per mailbox (none matches, so every rule is evaluated), 4 KB messages, 16 connections, against
# one release `mailroom serve` on the embedded default or Postgres + Redis. Each run seeds its
# own tenant and mailboxes. The database grows with every run, so the rounds go up and down
# (0, 10, 100, then 100, 10, 0, ...): a drift shows in every column alike.
#
#   bash bench/rules.sh sqlite|postgres
#
# MESSAGES (3000), MAILBOXES (10), ROUNDS (2).
cd "$(dirname "$0")/.."
MESSAGES=${MESSAGES:-3000} MAILBOXES=${MAILBOXES:-10} ROUNDS=${ROUNDS:-2}
SMTP_PORT=${SMTP_PORT:-12525}
EXTRA_ENV="MAILROOM_SMTP_LISTEN=127.0.0.1:$SMTP_PORT MAILROOM_SMTP_AUTHENTICATE=false"
source bench/lib.sh
for round in $(seq "$ROUNDS"); do
  order="0 10 100"
  [ $((round % 2)) = 0 ] && order="100 10 0"
  for rules in $order; do
    env "${env_args[@]}" "$BIN" bench smtp --server "127.0.0.1:$SMTP_PORT" --messages "$MESSAGES" \
      --size 4096 --concurrency 16 --mailboxes "$MAILBOXES" --rules "$rules" \
      | jq -c '{backend, rules_per_mailbox, messages, per_sec, p50_ms, p99_ms}'
  done
done
