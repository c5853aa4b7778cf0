#!/usr/bin/env bash
# Issue 18's figures: spam recall, ham false-positive rate, precision and messages/second per
# core on the held-out part of a labelled corpus, for Mailroom and, trained on the same training
# part, SpamAssassin and rspamd from Debian (installed here if missing), on this machine.
#
#   bash bench/spam.sh CORPUS     (CORPUS holds ham/ and spam/, one message per file)
#
# The split is Mailroom's (`mailroom spam split`: by Message-ID, 1 in 5 held out). Mailroom's
# shipped base model was learnt from the same training part (see the README). Every filter runs
# without network tests (no DNS blocklists, SPF, DKIM or DMARC): the corpus has no SMTP session.
# Each is judged at its default threshold: Mailroom 5.0 (Junk), SpamAssassin 5.0, rspamd its
# `add header` action (6.0). rspamd is configured in /etc/rspamd/local.d and learns into Redis
# database 5 (flushed first): run it on a machine that is yours to change.
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=${1:?usage: bench/spam.sh CORPUS}
BIN=${BIN:-target/release/mailroom}
[ -x "$BIN" ] || cargo build --release
work=$(mktemp -d /tmp/spam-bench.XXXX)
chmod 755 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
"$BIN" spam split --ham "$CORPUS/ham" --spam "$CORPUS/spam" --out "$work/split"
chmod -R a+rX "$work/split"
test_ham=$work/split/test/ham test_spam=$work/split/test/spam
n_ham=$(ls "$test_ham" | wc -l) n_spam=$(ls "$test_spam" | wc -l)
cores=$(nproc)
report() { # name, spam judged spam, ham judged spam, seconds, cores used
  awk -v n="$1" -v tp="$2" -v fp="$3" -v s="$4" -v c="$5" -v h="$n_ham" -v sp="$n_spam" 'BEGIN {
    r = tp / sp; f = fp / h; p = (tp + fp) ? tp / (tp + fp) : 0;
    printf "%-12s recall %.2f%% (%d/%d)  false positives %.2f%% (%d/%d)  precision %.2f%%  F1 %.4f  %.0f msg/s per core\n",
      n, 100 * r, tp, sp, 100 * f, fp, h, 100 * p, (p + r) ? 2 * p * r / (p + r) : 0, (h + sp) / s / c }'
}

echo "== Mailroom"
"$BIN" spam eval --ham "$CORPUS/ham" --spam "$CORPUS/spam" --split test

echo "== SpamAssassin"
if ! command -v spamd >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq spamassassin spamc >/dev/null
fi
sa=$work/sa
mkdir -p "$sa/site" "$sa/bayes"
cp /etc/spamassassin/*.pre "$sa/site/" 2>/dev/null || true
cat > "$sa/site/local.cf" <<CF
required_score 5.0
use_bayes 1
bayes_auto_learn 0
bayes_path $sa/bayes/bayes
bayes_file_mode 0777
skip_rbl_checks 1
use_razor2 0
use_pyzor 0
dns_available no
CF
chmod -R a+rwX "$sa"
sa-learn --siteconfigpath "$sa/site" --ham "$work/split/train/ham" >/dev/null
sa-learn --siteconfigpath "$sa/site" --spam "$work/split/train/spam" >/dev/null
chmod -R a+rwX "$sa"
spamd --siteconfigpath "$sa/site" -L -x -u debian-spamd -i 127.0.0.1 -p 17833 \
  --max-children "$cores" --min-children "$cores" -s /dev/null -r "$sa/spamd.pid" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 60); do spamc -p 17833 -K >/dev/null 2>&1 && break; sleep 1; done
judge_sa() { # prints 1 per message judged spam
  ls "$1" | xargs -P "$cores" -I{} sh -c 'spamc -p 17833 -c < "$0/{}" >/dev/null; [ $? -eq 1 ] && echo 1 || true' "$1"
}
start=$(date +%s.%N)
tp=$(judge_sa "$test_spam" | wc -l)
fp=$(judge_sa "$test_ham" | wc -l)
end=$(date +%s.%N)
report SpamAssassin "$tp" "$fp" "$(echo "$end - $start" | bc)" "$cores"

echo "== rspamd"
if ! command -v rspamd >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rspamd >/dev/null
fi
systemctl stop rspamd 2>/dev/null || true
pkill -x rspamd 2>/dev/null || true
ld=/etc/rspamd/local.d
mkdir -p "$ld"
echo 'servers = "127.0.0.1:6379"; db = "5";' > "$ld/redis.conf"
printf 'backend = "redis";\nautolearn = false;\nmin_learns = 10;\n' > "$ld/classifier-bayes.conf"
echo 'bind_socket = "127.0.0.1:11333";' > "$ld/worker-normal.inc"
echo 'bind_socket = "127.0.0.1:11334";' > "$ld/worker-controller.inc"
echo 'enabled = false;' > "$ld/worker-proxy.inc"
for m in rbl emails fuzzy_check spf dkim dmarc asn multimap greylist ratelimit replies neural \
  mx_check dkim_signing arc reputation url_redirector external_services; do
  echo 'enabled = false;' > "$ld/$m.conf"
done
redis-cli -n 5 FLUSHDB >/dev/null
mkdir -p /run/rspamd /var/lib/rspamd /var/log/rspamd
chown _rspamd:_rspamd /run/rspamd /var/lib/rspamd /var/log/rspamd
rspamd -u _rspamd -g _rspamd -c /etc/rspamd/rspamd.conf
for _ in $(seq 60); do rspamc -h 127.0.0.1:11334 stat >/dev/null 2>&1 && break; sleep 1; done
rspamc -h 127.0.0.1:11334 -n "$cores" learn_ham "$work/split/train/ham" >/dev/null
rspamc -h 127.0.0.1:11334 -n "$cores" learn_spam "$work/split/train/spam" >/dev/null
# Warm-up: rspamd compiles its regular expressions (hyperscan) in the background after it
# starts; until then it is slower. Scan the training ham once and wait for the compiler.
rspamc -h 127.0.0.1:11333 -n "$cores" "$work/split/train/ham" >/dev/null 2>&1 || true
for _ in $(seq 120); do pgrep -f 'rspamd: hs_helper' >/dev/null || break; sleep 1; done
judge_rspamd() { # prints 1 per message whose action is not "no action" or "greylist"
  rspamc -h 127.0.0.1:11333 -n "$cores" -j "$1" 2>/dev/null |
    grep -o '"action": *"[^"]*"' | grep -cv -e 'no action' -e greylist || true
}
start=$(date +%s.%N)
tp=$(judge_rspamd "$test_spam")
fp=$(judge_rspamd "$test_ham")
end=$(date +%s.%N)
report rspamd "$tp" "$fp" "$(echo "$end - $start" | bc)" "$cores"
pkill -x rspamd 2>/dev/null || true
