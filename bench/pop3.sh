#!/usr/bin/env bash
# Issue 16's figure: POP3 RETR throughput, Mailroom (release build) and Dovecot from Debian
# (dovecot-pop3d, maildir, on a private port) side by side on this machine, driven by the same
# client (bench/pop3_bench.py).
#
#   bash bench/pop3.sh sqlite|postgres
#
# Four mailboxes on each server get the same MESSAGES (10,000) messages of about SIZE (4096)
# bytes: Mailroom through its REST mbox import, Dovecot as maildir files. After a warm-up login
# on each (Dovecot indexes the maildir then; Mailroom reads the maildrop), one client RETRs
# every message of one mailbox, then four clients each RETR every message of their own mailbox
# at once. Each run is RUNS (3) times; every figure is printed.
# Needs: python3, jq, curl, dovecot-pop3d (installed when missing).
cd "$(dirname "$0")/.."
MESSAGES=${MESSAGES:-10000} SIZE=${SIZE:-4096} RUNS=${RUNS:-3}
POP3_PORT=${POP3_PORT:-11110} DOVECOT_PORT=${DOVECOT_PORT:-11100}
EXTRA_ENV="MAILROOM_POP3_LISTEN=127.0.0.1:$POP3_PORT MAILROOM_SMTP_LISTEN=127.0.0.1:0 MAILROOM_SUBMISSION_LISTEN=127.0.0.1:0
  MAILROOM_IMAP_LISTEN=127.0.0.1:0 ${EXTRA_ENV:-}"
source bench/lib.sh
command -v dovecot >/dev/null && [ -e /usr/lib/dovecot/pop3 ] ||
  apt-get install -y -qq dovecot-pop3d >/dev/null
PASS=bench-mailbox-password

python3 bench/pop3_bench.py mbox "$MESSAGES" "$SIZE" > "$dir/seed.mbox"
echo "seed: $MESSAGES messages, $(du -m "$dir/seed.mbox" | cut -f1) MB per mailbox"

# Mailroom: four tenants with a mailbox each (`mailroom bench read --messages 0`), filled by
# the REST import.
users=()
for k in 1 2 3 4; do
  seed=$(env "${env_args[@]}" "$BIN" bench read --messages 0)
  users+=("$(echo "$seed" | jq -r .address)")
  owner=$(curl -sSf "$API/v1/auth/login" -H "$j" \
    -d "{\"email\":\"$(echo "$seed" | jq -r .owner)\",\"password\":\"bench-owner-password\"}" | jq -r .access_token)
  curl -sSf "$API/v1/mailboxes/$(echo "$seed" | jq -r .mailbox)/import?folder=INBOX" \
    -H "authorization: Bearer $owner" -H 'content-type: application/mbox' \
    --data-binary @"$dir/seed.mbox" | jq -c '{imported, errors: (.errors | length)}'
done

# Dovecot: its own instance in $dir/dovecot, users u1..u4, password $PASS.
dv="$dir/dovecot"
mkdir -p "$dv/run" "$dv/home"
chmod 755 "$dir" "$dv"
for k in 1 2 3 4; do
  python3 bench/pop3_bench.py maildir "$dir/seed.mbox" "$dv/home/u$k/Maildir"
done
chown -R nobody:nogroup "$dv/home"
cat > "$dv/dovecot.conf" <<EOF
base_dir = $dv/run
instance_name = dovecot-pop3-bench-$$
listen = 127.0.0.1
protocols = pop3
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = $dv/log
first_valid_uid = 65534
mail_location = maildir:~/Maildir
passdb {
  driver = static
  args = password=$PASS
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$dv/home/%u
}
service pop3-login {
  inet_listener pop3 {
    port = $DOVECOT_PORT
  }
  inet_listener pop3s {
    port = 0
  }
}
EOF
dovecot -c "$dv/dovecot.conf"
trap 'dovecot -c "$dv/dovecot.conf" stop 2>/dev/null; bench_cleanup' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$DOVECOT_PORT") 2>/dev/null && break; sleep 0.1; done

run() { # server port users...
  local name=$1 port=$2
  shift 2
  for _ in $(seq "$RUNS"); do
    python3 bench/pop3_bench.py retr 127.0.0.1 "$port" "$PASS" "$@" | jq -c --arg s "$name" '{server: $s} + .'
  done
}
# Warm-up: one full pass on each (not counted).
python3 bench/pop3_bench.py retr 127.0.0.1 "$POP3_PORT" "$PASS" "${users[@]}" > /dev/null
python3 bench/pop3_bench.py retr 127.0.0.1 "$DOVECOT_PORT" "$PASS" u1 u2 u3 u4 > /dev/null
run mailroom "$POP3_PORT" "${users[0]}"
run dovecot "$DOVECOT_PORT" u1
run mailroom "$POP3_PORT" "${users[@]}"
run dovecot "$DOVECOT_PORT" u1 u2 u3 u4
