#!/usr/bin/env bash
# Requests per second of GET /v1/me with an access token and with an API key (wrk, 50
# connections), on the embedded default or on Postgres + Redis, against a release build.
#
#   bash bench/me.sh sqlite
#   bash bench/me.sh postgres   # needs postgres://postgres@127.0.0.1:5432 and redis://127.0.0.1:6379
#
# Set DURATION (default 15s), CONNECTIONS (50), THREADS (2), PORT (18080), BIN (the binary).
cd "$(dirname "$0")/.."
source bench/lib.sh
DURATION=${DURATION:-15s} CONNECTIONS=${CONNECTIONS:-50} THREADS=${THREADS:-2}
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 1; }
key=$(curl -sSf "$API/v1/api-keys" -H "authorization: Bearer $JWT" -H "$j" -d '{"name":"bench","scopes":["users:read"]}' | jq -r .key)
echo "backend=$backend connections=$CONNECTIONS threads=$THREADS duration=$DURATION cores=$(nproc)"
for kind in jwt key; do
  token=$JWT; [ "$kind" = key ] && token=$key
  curl -sSf "$API/v1/me" -H "authorization: Bearer $token" >/dev/null
  echo "--- GET /v1/me with $kind"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "authorization: Bearer $token" "$API/v1/me" \
    | grep -E "Requests/sec|Latency|50%|99%|Non-2xx|Socket errors"
done
