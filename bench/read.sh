#!/usr/bin/env bash
# Issue 6's figures: latency of the REST read path on a mailbox of MESSAGES (100,000) messages
# seeded through the real ingest path, on the embedded default or on Postgres + Redis, against
# a release `mailroom serve`. One connection at a time (wrk -c1), DURATION each (10s):
# the first page of messages and of threads in INBOX, one message rendered, and a search for a
# word in 1% of the messages.
#
#   bash bench/read.sh sqlite|postgres
cd "$(dirname "$0")/.."
source bench/lib.sh
MESSAGES=${MESSAGES:-100000} DURATION=${DURATION:-10s} SEED_CONCURRENCY=${SEED_CONCURRENCY:-4}
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 1; }
seed=$(env "${env_args[@]}" "$BIN" bench read --messages "$MESSAGES" --concurrency "$SEED_CONCURRENCY")
echo "$seed" | jq -c '{backend, messages, seed_secs, seed_per_sec}'
stop_analyze
owner=$(echo "$seed" | jq -r .owner) mb=$(echo "$seed" | jq -r .mailbox)
mid=$(echo "$seed" | jq -r .message) word=$(echo "$seed" | jq -r .rare_word)
token=$(curl -sSf "$API/v1/auth/login" -H "$j" -d "{\"email\":\"$owner\",\"password\":\"bench-owner-password\"}" | jq -r .access_token)
# The first search after the import, timed on its own (no warm-up, no statistics taken from
# outside): it must use the index at once.
first=$(curl -sSf -o /dev/null -w '%{time_total}' "$API/v1/mailboxes/$mb/search?q=$word" -H "authorization: Bearer $token")
hits=$(curl -sSf "$API/v1/mailboxes/$mb/search?q=$word&limit=200" -H "authorization: Bearer $token" | jq '.items | length')
echo "search '$word': first query ${first}s; $hits hits on the first page (limit 200)"
for path in "messages?folder=INBOX" "threads?folder=INBOX" "messages/$mid" "search?q=$word"; do
  url="$API/v1/mailboxes/$mb/$path"
  for _ in 1 2 3 4 5; do curl -sSf "$url" -H "authorization: Bearer $token" >/dev/null; done
  echo "--- GET /v1/mailboxes/{id}/${path//$mid/\{mid\}}"
  wrk -t1 -c1 -d"$DURATION" --latency -H "authorization: Bearer $token" "$url" \
    | grep -E "Requests/sec|50%|99%|Non-2xx|Socket errors"
done
