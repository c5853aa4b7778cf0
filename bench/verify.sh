#!/usr/bin/env bash
# How long POST /v1/domains/{id}/verify takes against a local DNS server (dnsmasq) holding every
# record: median and p90 over RUNS (default 100) sequential calls; then the same call with the
# DNS server stopped. Release build.
#
#   bash bench/verify.sh sqlite|postgres
cd "$(dirname "$0")/.."
command -v dnsmasq >/dev/null || { echo "dnsmasq is needed (apt-get install dnsmasq-base)"; exit 1; }
RUNS=${RUNS:-100}
DNS_PORT=${DNS_PORT:-15353}
EXTRA_ENV="MAILROOM_DNS_NAMESERVERS=127.0.0.1:$DNS_PORT MAILROOM_PUBLIC_HOSTNAME=mail.example.net"
source bench/lib.sh
auth="authorization: Bearer $JWT"
id=$(curl -sSf "$API/v1/domains" -H "$auth" -H "$j" -d '{"name":"bench.example"}' | jq -r .id)
mapfile -t records < <(curl -sSf "$API/v1/domains/$id/dns-records" -H "$auth" | jq -r '.records[] |
  (.value | split(" ")) as $v |
  if .type == "TXT" then "--txt-record=\(.name),\(.value)"
  elif .type == "MX" then "--mx-host=\(.name),\($v[1]),\($v[0])"
  elif .type == "CNAME" then "--cname=\(.name),\(.value)"
  else "--srv-host=\(.name),\($v[3]),\($v[2]),\($v[0]),\($v[1])" end')
dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --pid-file= \
  --listen-address=127.0.0.1 --bind-interfaces --port="$DNS_PORT" --local=/bench.example/ \
  --host-record=mail.example.net,127.0.0.1 "${records[@]}" &
dns_pid=$!
trap 'kill $dns_pid 2>/dev/null || true; bench_cleanup' EXIT
sleep 0.5
first=$(curl -sSf -X POST "$API/v1/domains/$id/verify" -H "$auth")
echo "backend=$backend records=$(echo "$first" | jq '.records | length') verified=$(echo "$first" | jq .verified) ready_to_send=$(echo "$first" | jq .ready_to_send)"
times=()
for _ in $(seq 1 "$RUNS"); do
  times+=("$(curl -sSf -o /dev/null -w '%{time_total}' -X POST "$API/v1/domains/$id/verify" -H "$auth")")
done
printf '%s\n' "${times[@]}" | sort -n | awk -v n="$RUNS" '{a[NR]=$1} END {
  printf "verify with every record published: median %.1f ms, p90 %.1f ms, max %.1f ms over %d runs\n",
    a[int((n+1)/2)]*1000, a[int(n*0.9)]*1000, a[n]*1000, n }'
kill "$dns_pid"; wait "$dns_pid" 2>/dev/null || true
down=$(curl -sS -w '\n%{time_total}' -X POST "$API/v1/domains/$id/verify" -H "$auth")
echo "DNS server down: $(echo "$down" | tail -n 1 | awk '{printf "%.2f s", $1}'), statuses: $(echo "$down" | head -n 1 | jq -c '[.records[].status] | group_by(.) | map({(.[0]): length}) | add'), still verified: $(echo "$down" | head -n 1 | jq .verified)"
