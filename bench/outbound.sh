#!/usr/bin/env bash
# Issue 17's figure: messages/second delivered to a local SMTP sink, 4 KB messages with one
# recipient each, spread over 1 and 16 recipient domains; sent through a release
# `mailroom serve` (SMTP submission with AUTH, DKIM signing on, relayed through
# `outbound.smarthost` to the sink), then through Postfix from Debian (relayhost = the same
# sink) on the same machine. The sink runs inside `mailroom bench outbound`, which also sends.
#
#   bash bench/outbound.sh sqlite|postgres
#
# MESSAGES (2000), SIZE (4096), CONCURRENCY (16 sending connections), JOBS (Mailroom's
# jobs.concurrency, 16), CACHE_SECS (Mailroom's outbound.connection_cache_secs, 5; 0 opens a
# session per delivery). Postfix is installed (apt-get) and configured as this machine's MTA
# on 127.0.0.1 only: run it on a machine that is yours to change.
cd "$(dirname "$0")/.."
MESSAGES=${MESSAGES:-2000} SIZE=${SIZE:-4096} CONCURRENCY=${CONCURRENCY:-16}
SINK_PORT=${SINK_PORT:-12526} SUB_PORT=${SUB_PORT:-12587} PF_PORT=${PF_PORT:-12588}
EXTRA_ENV="MAILROOM_SUBMISSION_LISTEN=127.0.0.1:$SUB_PORT MAILROOM_SUBMISSION_REQUIRE_TLS_FOR_AUTH=false
  MAILROOM_OUTBOUND_SMARTHOST=127.0.0.1:$SINK_PORT MAILROOM_OUTBOUND_MAX_MESSAGES_PER_MAILBOX_PER_HOUR=0
  MAILROOM_OUTBOUND_MAX_MESSAGES_PER_TENANT_PER_MINUTE=0 MAILROOM_SMTP_LISTEN=127.0.0.1:0
  MAILROOM_IMAP_LISTEN=127.0.0.1:0 MAILROOM_POP3_LISTEN=127.0.0.1:0 MAILROOM_JOBS_CONCURRENCY=${JOBS:-16}
  MAILROOM_JOBS_POLL_INTERVAL_MS=20 MAILROOM_AUTH_LOGIN_MAX_ATTEMPTS_PER_IP=1000000
  MAILROOM_OUTBOUND_CONNECTION_CACHE_SECS=${CACHE_SECS:-5}"
source bench/lib.sh
for d in 1 16; do
  env "${env_args[@]}" "$BIN" bench outbound --submission "127.0.0.1:$SUB_PORT" --sink-port "$SINK_PORT" \
    --messages "$MESSAGES" --size "$SIZE" --concurrency "$CONCURRENCY" --domains "$d"
done
# Postfix, relaying to the same sink.
if ! command -v postfix >/dev/null; then
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
fi
[ -f /etc/postfix/main.cf ] || cp /usr/share/postfix/main.cf.debian /etc/postfix/main.cf
postconf -e "inet_interfaces = 127.0.0.1" "inet_protocols = ipv4" "mydestination =" \
  "myhostname = bench.localdomain" "relayhost = [127.0.0.1]:$SINK_PORT" "mynetworks = 127.0.0.0/8" \
  "smtpd_relay_restrictions = permit_mynetworks, reject" "smtp_tls_security_level = none" \
  "maillog_file = /var/log/postfix-bench.log" "compatibility_level = 3.6"
postconf -M "127.0.0.1:$PF_PORT/inet=127.0.0.1:$PF_PORT inet n - n - - smtpd"
postfix stop >/dev/null 2>&1 || true
postfix start >/dev/null 2>&1
sleep 1
for d in 1 16; do
  env "${env_args[@]}" "$BIN" bench outbound --relay "127.0.0.1:$PF_PORT" --sink-port "$SINK_PORT" \
    --messages "$MESSAGES" --size "$SIZE" --concurrency "$CONCURRENCY" --domains "$d"
done
postfix stop >/dev/null 2>&1 || true
