#!/usr/bin/env bash
# Issue 4's figures: recipient resolutions per second (the SMTP server's look-up), and the
# latency of GET /v1/mailboxes?limit=100 (first page and page 50) with MAILBOXES mailboxes in
# one tenant. Release build, on the embedded default or Postgres + Redis.
#
#   bash bench/directory.sh sqlite|postgres
#
# MAILBOXES (10000), LOOKUPS (20000), CONCURRENCY (16), REQUESTS (200).
cd "$(dirname "$0")/.."
MAILBOXES=${MAILBOXES:-10000} LOOKUPS=${LOOKUPS:-20000} CONCURRENCY=${CONCURRENCY:-16} REQUESTS=${REQUESTS:-200}
source bench/lib.sh
seed=$(env "${env_args[@]}" "$BIN" bench directory --mailboxes "$MAILBOXES" --lookups "$LOOKUPS" --concurrency "$CONCURRENCY")
echo "$seed" | jq -c '{backend, mailboxes, aliases, groups, seed_secs, resolver}'
owner=$(echo "$seed" | jq -r .owner_email)
token=$(curl -sSf "$API/v1/auth/login" -H "$j" -d "{\"email\":\"$owner\",\"password\":\"bench-owner-password\"}" | jq -r .access_token)
auth="authorization: Bearer $token"
first="$API/v1/mailboxes?limit=100"
cursor=""
for _ in $(seq 1 49); do
  cursor=$(curl -sSf "$first${cursor:+&cursor=$cursor}" -H "$auth" | jq -r .next_cursor)
done
deep="$first&cursor=$cursor"
[ "$(curl -sSf "$deep" -H "$auth" | jq '.items | length')" = 100 ] || { echo "page 50 is not full"; exit 1; }
for label in first deep; do
  url=$first; [ "$label" = deep ] && url=$deep
  for _ in $(seq 1 "$REQUESTS"); do curl -sS -o /dev/null -w '%{time_total}\n' "$url" -H "$auth"; done | sort -n |
    awk -v n="$REQUESTS" -v l="$label" '{a[NR]=$1} END {printf "GET /v1/mailboxes?limit=100 (%s page): p50 %.1f ms, p99 %.1f ms over %d requests\n", l, a[int(n*0.5)]*1000, a[int(n*0.99)]*1000, n}'
done
