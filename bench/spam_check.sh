#!/usr/bin/env bash
# Issue 18's throughput figure through the API: `POST /v1/spam/check` (authentication, the
# tenant's settings and own counts read from the database, parse, rules, classifier) on a
# release `mailroom serve`, with wrk: CONNECTIONS (8) connections for DURATION (15s), each
# request one message from tests/data/spam (ham and spam in turn). Prints requests/second and
# that figure per core of the machine (the server and wrk share it).
#
#   bash bench/spam_check.sh sqlite|postgres
cd "$(dirname "$0")/.."
DURATION=${DURATION:-15s} CONNECTIONS=${CONNECTIONS:-8}
EXTRA_ENV="MAILROOM_SMTP_LISTEN=127.0.0.1:0 MAILROOM_IMAP_LISTEN=127.0.0.1:0
  MAILROOM_POP3_LISTEN=127.0.0.1:0 MAILROOM_SUBMISSION_LISTEN=127.0.0.1:0"
source bench/lib.sh
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 1; }
lua=$dir/check.lua
{
  echo 'local bodies = {}'
  for f in tests/data/spam/ham/*.eml tests/data/spam/spam/*.eml; do
    printf 'bodies[#bodies + 1] = %s\n' "$(jq -Rs . < "$f")"
  done
  cat <<'LUA'
local i = 0
wrk.method = "POST"
wrk.headers["content-type"] = "message/rfc822"
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, "/v1/spam/check", nil, bodies[i])
end
response = function(status)
  if status ~= 200 then error("status " .. status) end
end
LUA
} > "$lua"
out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" -s "$lua" -H "authorization: Bearer $JWT" "$API/v1/spam/check")
echo "$out"
rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
echo "spam/check ($backend): $rps requests/s, $(echo "$rps / $(nproc)" | bc) per core"
