#!/usr/bin/env bash
# Issue 12's DNS figure: how long a delivery takes when the configured DNS server is gone
# (SPF, DKIM, DMARC and ARC checks on, every look-up unanswered), against a release
# `mailroom serve`. Each message is answered once the authentication deadline
# (smtp.auth_deadline_ms) has passed, with temperror results.
#
#   bash bench/dns_down.sh sqlite|postgres
#
# MESSAGES (40), CONCURRENCY (8); BIN picks the binary.
cd "$(dirname "$0")/.."
MESSAGES=${MESSAGES:-40} CONCURRENCY=${CONCURRENCY:-8}
SMTP_PORT=${SMTP_PORT:-12525}
# Port 9 (discard) on loopback: nothing answers there.
EXTRA_ENV="MAILROOM_SMTP_LISTEN=127.0.0.1:$SMTP_PORT MAILROOM_SMTP_AUTHENTICATE=true MAILROOM_DNS_NAMESERVERS=127.0.0.1:9"
source bench/lib.sh
env "${env_args[@]}" "$BIN" bench smtp --server "127.0.0.1:$SMTP_PORT" --messages "$MESSAGES" \
  --size 4096 --concurrency "$CONCURRENCY" --mailboxes 10 \
  | jq -c '{backend, messages, concurrency, per_sec, p50_ms, p99_ms}'
