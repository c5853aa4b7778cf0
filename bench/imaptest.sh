#!/usr/bin/env bash
# Dovecot's imaptest against Mailroom's IMAP server (tools/imaptest builds it once).
#
#   bash bench/imaptest.sh sqlite|postgres            the scripted conformance tests
#   bash bench/imaptest.sh sqlite|postgres FILE...     only these tests (names in target/imaptest/tests)
#   MODE=stress CLIENTS=10 SECS=60 bash bench/imaptest.sh sqlite|postgres
#                                                     the stress benchmark (random sessions, logout=0)
#
# Exits non-zero when a scripted test fails. BIN picks the binary (default: the release build;
# CI passes its debug build); IMAPTEST_DIR where imaptest is built (default target/imaptest).
cd "$(dirname "$0")/.."
IMAP_PORT=${IMAP_PORT:-11143}
EXTRA_ENV="MAILROOM_IMAP_LISTEN=127.0.0.1:$IMAP_PORT MAILROOM_SMTP_LISTEN=127.0.0.1:0 MAILROOM_SUBMISSION_LISTEN=127.0.0.1:0 MAILROOM_POP3_LISTEN=127.0.0.1:0 MAILROOM_IMAP_MAX_CONNECTIONS_PER_USER=200 MAILROOM_IMAP_MAX_BAD_COMMANDS=1000 MAILROOM_AUTH_LOGIN_MAX_ATTEMPTS_PER_IP=1000000 ${EXTRA_ENV:-}"
source bench/lib.sh
shift || true
IMAPTEST=$(bash tools/imaptest/build.sh "${IMAPTEST_DIR:-target/imaptest}")
tests_dir=$(dirname "$IMAPTEST")/tests
seed=$(env "${env_args[@]}" "$BIN" bench read --messages 0)
user=$(echo "$seed" | jq -r .address)
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$IMAP_PORT") 2>/dev/null && break; sleep 0.1; done
common=(host=127.0.0.1 port="$IMAP_PORT" user="$user" pass=bench-mailbox-password)
if [ "${MODE:-test}" = stress ]; then
  mbox=${MBOX:-$tests_dir/default.mbox}
  "$IMAPTEST" "${common[@]}" mbox="$mbox" clients="${CLIENTS:-10}" secs="${SECS:-60}" logout=0
  exit
fi
if [ $# -eq 0 ]; then
  "$IMAPTEST" "${common[@]}" test="$tests_dir" | tee "$dir/imaptest.out"
else
  for t in "$@"; do "$IMAPTEST" "${common[@]}" test="$tests_dir/$t"; done | tee "$dir/imaptest.out"
fi
# imaptest ends with "N test groups: F failed, S skipped due to missing capabilities".
tail -n 3 "$dir/imaptest.out" | grep -qE "test groups: 0 failed" || { echo "imaptest: failures"; exit 1; }
