#!/usr/bin/env bash
# Issue 15's figures: Mailroom (release build) and Dovecot from Debian (dovecot-imapd, sdbox,
# on a private port) side by side on this machine, driven by the same client.
#
#   bash bench/imap.sh sqlite|postgres
#
# 1. APPEND rate, seeding MESSAGES (100,000) messages over 4 connections (bench/imap_bench.py);
# 2. SELECT + `UID FETCH 1:* (FLAGS)` on that folder; `UID FETCH` ENVELOPE+BODYSTRUCTURE of 50
#    messages; `UID SEARCH BODY` of a word in 1% of the messages;
# 3. imaptest stress (random sessions, logout=0) with 10 and 50 clients, STRESS_SECS (60) each,
#    on a fresh mailbox of each server;
# 4. memory: RSS growth with IDLE_CONNECTIONS (10,000) logged-in IDLE connections (Dovecot:
#    every process of the instance, with imap-hibernate so idle connections leave their
#    imap process, Dovecot's own setup for this).
# READS_ONLY=1 stops after step 2; STRESS_ONLY=1 runs step 3 alone (STRESS_CLIENTS="10 50").
# Needs: python3, jq, curl, dovecot-imapd (installed when missing), imaptest (tools/imaptest).
cd "$(dirname "$0")/.."
MESSAGES=${MESSAGES:-100000} STRESS_SECS=${STRESS_SECS:-60} IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-10000}
IMAP_PORT=${IMAP_PORT:-11143} DOVECOT_PORT=${DOVECOT_PORT:-11430}
EXTRA_ENV="MAILROOM_IMAP_LISTEN=127.0.0.1:$IMAP_PORT MAILROOM_SMTP_LISTEN=127.0.0.1:0 MAILROOM_SUBMISSION_LISTEN=127.0.0.1:0 MAILROOM_POP3_LISTEN=127.0.0.1:0
  MAILROOM_IMAP_MAX_CONNECTIONS=30000 MAILROOM_IMAP_MAX_CONNECTIONS_PER_IP=30000
  MAILROOM_IMAP_MAX_CONNECTIONS_PER_USER=30000 MAILROOM_AUTH_LOGIN_MAX_ATTEMPTS_PER_IP=1000000000
  MAILROOM_IMAP_MAX_BAD_COMMANDS=1000000 ${EXTRA_ENV:-}"
source bench/lib.sh
ulimit -n "$(ulimit -Hn)"
command -v dovecot >/dev/null || apt-get install -y -qq dovecot-imapd >/dev/null
IMAPTEST=$(bash tools/imaptest/build.sh "${IMAPTEST_DIR:-target/imaptest}")
PASS=bench-mailbox-password

# Dovecot: its own instance in $dir/dovecot, any user name, password $PASS.
dv="$dir/dovecot"
mkdir -p "$dv/run" "$dv/home"
chmod 755 "$dir" "$dv"
chown -R nobody:nogroup "$dv/home"
cat > "$dv/dovecot.conf" <<EOF
base_dir = $dv/run
instance_name = dovecot-bench-$$
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = $dv/log
first_valid_uid = 65534
mail_location = sdbox:~/mail
imap_hibernate_timeout = 5s
default_client_limit = 40000
default_vsz_limit = 0
passdb {
  driver = static
  args = password=$PASS
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$dv/home/%u
}
service imap-login {
  inet_listener imap {
    port = $DOVECOT_PORT
  }
  inet_listener imaps {
    port = 0
  }
  service_count = 0
  process_min_avail = 2
  client_limit = 20000
}
service imap {
  process_limit = 30000
  unix_listener imap-master {
    user = nobody
  }
}
service imap-hibernate {
  unix_listener imap-hibernate {
    mode = 0666
  }
  client_limit = 30000
}
protocol imap {
  mail_max_userip_connections = 30000
}
EOF
dovecot -c "$dv/dovecot.conf"
trap 'dovecot -c "$dv/dovecot.conf" stop 2>/dev/null; bench_cleanup' EXIT
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$DOVECOT_PORT") 2>/dev/null && break; sleep 0.1; done
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$IMAP_PORT") 2>/dev/null && break; sleep 0.1; done

mailbox() { env "${env_args[@]}" "$BIN" bench read --messages 0 | jq -r .address; }
echo "== $backend; Mailroom $(git rev-parse --short HEAD); $(dovecot --version | head -c 40)"
[ "${STRESS_ONLY:-0}" = 1 ] || for server in mailroom dovecot; do
  reader=${reader:-$(mailbox)}
  if [ $server = mailroom ]; then port=$IMAP_PORT user=$reader; else port=$DOVECOT_PORT user=reader-$$; fi
  python3 bench/imap_bench.py 127.0.0.1 "$port" "$user" $PASS seed "$MESSAGES" 4 | sed "s/^/$server /"
  python3 bench/imap_bench.py 127.0.0.1 "$port" "$user" $PASS read | sed "s/^/$server /"
done
# READS_ONLY=1: the APPEND and read figures only (no stress, no memory).
[ "${READS_ONLY:-0}" = 1 ] && exit 0

for clients in ${STRESS_CLIENTS:-10 50}; do
  for server in mailroom dovecot; do
    if [ $server = mailroom ]; then port=$IMAP_PORT user=$(mailbox); else port=$DOVECOT_PORT user=stress-$clients-$$; fi
    echo "== imaptest stress, $clients clients, ${STRESS_SECS}s: $server"
    "$IMAPTEST" host=127.0.0.1 port="$port" user="$user" pass=$PASS \
      mbox="$(dirname "$IMAPTEST")/tests/default.mbox" clients="$clients" secs="$STRESS_SECS" logout=0 \
      | tail -n 4
  done
done

[ "${STRESS_ONLY:-0}" = 1 ] && exit 0

rss_of() { # total RSS in KiB of the given pids
  local t=0; for p in "$@"; do t=$((t + $(awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done; echo $t
}
dovecot_pids() { pgrep -f "dovecot-bench-$$|$dv/" ; pgrep -u nobody -f '^dovecot/imap' ; }
for server in mailroom dovecot; do
  if [ $server = mailroom ]; then port=$IMAP_PORT user=$(mailbox); pids() { echo "$server_pid"; }
  else port=$DOVECOT_PORT user=idle-$$; pids() { dovecot_pids | sort -u; }; fi
  before=$(rss_of $(pids))
  fifo="$dir/idle-$server"; mkfifo "$fifo"
  python3 bench/imap_bench.py 127.0.0.1 "$port" "$user" $PASS idle "$IDLE_CONNECTIONS" < "$fifo" | sed "s/^/$server /" &
  holder=$!
  exec 4>"$fifo"
  # Wait until every connection idles (the client prints once they all do).
  for _ in $(seq 1 1200); do
    n=$(ss -Htn state established "( sport = :$port )" | wc -l)
    [ "$n" -ge "$IDLE_CONNECTIONS" ] && break
    sleep 0.5
  done
  sleep 10
  after=$(rss_of $(pids))
  echo "$server {\"what\": \"idle memory\", \"connections\": $n, \"rss_before_kib\": $before, \"rss_after_kib\": $after, \"per_connection_kib\": $(( (after - before) / (n > 0 ? n : 1) ))}"
  exec 4>&-
  wait "$holder" 2>/dev/null || true
done
