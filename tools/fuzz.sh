#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECS seconds each (default 60): the SMTP readers, the IMAP
# command reader, the IMAP command grammar and session, what IMAP derives from a message
# (ENVELOPE, base subject, BINARY decoding), the POP3 reader, parser and encoder in proto/fuzz,
# and the ingest parser in worker/fuzz. Seeds: a few IMAP and POP3 commands and the MIME torture
# corpus (tests/data). Installs
# cargo-fuzz when absent. libFuzzer needs nightly flags: RUSTC_BOOTSTRAP=1 lets this stable
# toolchain pass them (AddressSanitizer included).
#
#   bash tools/fuzz.sh [SECS] [TARGET...]
#
# Exits non-zero on a crash; the input is kept in <crate>/fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
corpus=${FUZZ_CORPUS:-$PWD/target/fuzz-corpus}
mkdir -p "$corpus"/{imap_command,imap_reader,imap_message,smtp_readers,pop3,ingest_parse}
commands='a1 LOGIN ana pw\r\na2 SELECT INBOX (QRESYNC (1 2 1:5))\r\na3 UID FETCH 1:* (FLAGS BODY.PEEK[1.HEADER.FIELDS (FROM)]<0.10> BINARY.PEEK[1]) (CHANGEDSINCE 3 VANISHED)\r\na4 SEARCH RETURN (MIN) CHARSET UTF-8 OR FROM x NOT SINCE 1-Jan-2020\r\na5 APPEND INBOX (\\Seen) ~{3+}\r\nabc\r\na6 SORT (REVERSE DATE) UTF-8 ALL\r\na7 THREAD REFERENCES UTF-8 ALL\r\na8 CREATE x (USE (\\Junk))\r\n'
for t in imap_command imap_reader; do printf "\x05$commands" > "$corpus/$t/seed"; done
printf 'EHLO x\r\nMAIL FROM:<a@b> SIZE=10\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: x\r\n\r\n..dot\r\n.\r\nQUIT\r\n' \
  > "$corpus/smtp_readers/seed"
printf '\x07CAPA\r\nUSER ana\r\nPASS two words\r\nSTAT\r\nLIST 1\r\nTOP 1 3\r\nRETR 1\r\nDELE 1\r\nAUTH PLAIN AGFAYgBj\r\nQUIT\r\n' \
  > "$corpus/pop3/seed"
n=0
while read -r f; do
  n=$((n + 1))
  cp "$f" "$corpus/imap_message/seed-$n"
  cp "$f" "$corpus/ingest_parse/seed-$n"
  { printf "\x05"; cat "$f"; } > "$corpus/pop3/seed-$n"
done < <(find tests/data/mime-torture -type f -name '*.eml')
targets=("$@")
((${#targets[@]})) || targets=(proto:smtp_readers proto:imap_reader proto:imap_command proto:imap_message proto:pop3 worker:ingest_parse)
for spec in "${targets[@]}"; do
  crate=${spec%%:*} target=${spec#*:}
  [ "$crate" = "$spec" ] && crate=proto
  echo "==> fuzzing $crate/$target for $secs s"
  (cd "$crate" && cargo fuzz run -O "$target" "$corpus/$target" -- \
    -max_total_time="$secs" -max_len=65536 -print_final_stats=1 2>&1) \
    | grep -E "^(Done |stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY)|panicked|Test unit written|Crash" \
    || true
  if compgen -G "$crate/fuzz/artifacts/$target/crash-*" >/dev/null \
    || compgen -G "$crate/fuzz/artifacts/$target/oom-*" >/dev/null \
    || compgen -G "$crate/fuzz/artifacts/$target/timeout-*" >/dev/null; then
    echo "fuzz: $crate/$target failed; inputs in $crate/fuzz/artifacts/$target/"
    exit 1
  fi
done
