#!/usr/bin/env bash
# Drop-rate benchmark: vigil firewall vs an nftables set (netdev ingress) vs
# xdp-filter, at 10, 1,000 and 100,000 source-address rules.
#
# A veth pair joins namespaces vbgen (trafgen flood) and vbdut (the filter).
# Every packet of the flood comes from an address in the rule set (the last
# rule), so every packet is dropped. Reported per run: packets dropped per
# second (from the filter's own counter) and softirq CPU time per million
# drops (/proc/stat; the drop work runs in softirq for all three).
# Usage: bench/firewall.sh [SECONDS] [SIZES...]     (root; prints ratios, asserts nothing)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}; shift || true
SIZES=${*:-10 1000 100000}
VIGIL=${VIGIL:-build/vigil}
GEN=vbgen DUT=vbdut
TMP=$(mktemp -d)

cleanup() {
  nsenter --net=/run/netns/$DUT "$VIGIL" firewall unload -i vbd0 >/dev/null 2>&1 || true
  nsenter --net=/run/netns/$DUT xdp-filter unload vbd0 >/dev/null 2>&1 || true
  ip netns del $GEN 2>/dev/null || true
  ip netns del $DUT 2>/dev/null || true
  rm -rf "$TMP"
  # libxdp leaves its (empty) state directories behind
  rmdir /sys/fs/bpf/xdp-filter /sys/fs/bpf/xdp/* /sys/fs/bpf/xdp 2>/dev/null || true
}
trap cleanup EXIT
cleanup 2>/dev/null; TMP=$(mktemp -d)

ip netns add $GEN; ip netns add $DUT
ip link add vbg0 netns $GEN type veth peer name vbd0 netns $DUT
ip -n $GEN addr add 10.250.0.1/16 dev vbg0; ip -n $DUT addr add 10.250.0.2/16 dev vbd0
ip -n $GEN link set vbg0 up; ip -n $DUT link set vbd0 up
MAC_DUT=$(ip -n $DUT -o link show vbd0 | sed 's/.*link\/ether \([^ ]*\).*/\1/')
MAC_GEN=$(ip -n $GEN -o link show vbg0 | sed 's/.*link\/ether \([^ ]*\).*/\1/')

# rule i drops source 10.(100 + i/65536).(i/256%256).(i%256); the flood uses the last one
addr() { echo "10.$((100 + $1 / 65536)).$(($1 / 256 % 256)).$(($1 % 256))"; }

softirq() { awk '/^cpu /{print $8}' /proc/stat; }

flood() { # runs trafgen for SECS seconds; echoes softirq jiffies used
  local src=$1 s0 s1
  cat > "$TMP/pkt.cfg" <<CFG
{ eth(da=$MAC_DUT, sa=$MAC_GEN, type=0x0800), ipv4(saddr=$src, daddr=10.250.0.2, ttl=64),
  udp(sport=40000, dport=9), fill(0x41, 18) }
CFG
  s0=$(softirq)
  ip netns exec $GEN timeout -s INT "$SECS" trafgen -o vbg0 -i "$TMP/pkt.cfg" -P 1 -q >/dev/null 2>&1 || true
  s1=$(softirq)
  echo $((s1 - s0))
}

HZ=$(getconf CLK_TCK)
report() { # tool n dropped jiffies
  awk -v t="$1" -v n="$2" -v d="$3" -v j="$4" -v s="$SECS" -v hz="$HZ" 'BEGIN {
    pps = d / s; cpu = (d > 0) ? (j / hz) / (d / 1e6) : 0;
    printf "%-11s %7d rules  %12.0f drops/s  %8.3f softirq-s per M drops\n", t, n, pps, cpu }'
  echo "$1 $2 $3" >> "$TMP/results"
}

for n in $SIZES; do
  last=$(addr $((n - 1)))
  # ---- vigil ----
  : > "$TMP/rules"; for ((i = 0; i < n; i++)); do echo "drop from $(addr $i)"; done > "$TMP/rules"
  nsenter --net=/run/netns/$DUT "$VIGIL" firewall load -i vbd0 --persist --sample 0 "$TMP/rules" 2>/dev/null
  j=$(flood "$last")
  d=$(nsenter --net=/run/netns/$DUT "$VIGIL" firewall status -i vbd0 --json |
      python3 -c 'import json,sys; print(sum(r["drops"] for r in json.load(sys.stdin)["rules"]))')
  mode=$(nsenter --net=/run/netns/$DUT "$VIGIL" firewall status -i vbd0 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["mode"])')
  nsenter --net=/run/netns/$DUT "$VIGIL" firewall unload -i vbd0 2>/dev/null
  report "vigil/$mode" "$n" "$d" "$j"

  # ---- nftables: the same addresses as one set, netdev ingress ----
  { echo "table netdev vbench {"; echo " set blk { type ipv4_addr; elements = {"
    for ((i = 0; i < n; i++)); do printf '%s,\n' "$(addr $i)"; done; echo " } }"
    echo " chain in {"; echo "  type filter hook ingress device vbd0 priority 0;"
    echo "  ip saddr @blk counter drop"; echo " }"; echo "}"; } > "$TMP/nft"
  ip netns exec $DUT nft -f "$TMP/nft"
  j=$(flood "$last")
  d=$(ip netns exec $DUT nft -j list chain netdev vbench in |
      python3 -c 'import json,sys
for o in json.load(sys.stdin)["nftables"]:
    for e in o.get("rule", {}).get("expr", []):
        if "counter" in e: print(e["counter"]["packets"])')
  ip netns exec $DUT nft delete table netdev vbench
  report "nftables" "$n" "$d" "$j"

  # ---- xdp-filter: one CLI call per address; skipped past 1,000 (minutes of calls) ----
  if [ "$n" -le 1000 ] && command -v xdp-filter >/dev/null; then
    nsenter --net=/run/netns/$DUT xdp-filter load vbd0 -m native -f ipv4 >/dev/null 2>&1 ||
      nsenter --net=/run/netns/$DUT xdp-filter load vbd0 -m skb -f ipv4 >/dev/null
    for ((i = 0; i < n; i++)); do nsenter --net=/run/netns/$DUT xdp-filter ip "$(addr $i)" -m src; done
    j=$(flood "$last")
    d=$(nsenter --net=/run/netns/$DUT xdp-filter status | awk '/XDP_DROP/{print $2; exit}')
    nsenter --net=/run/netns/$DUT xdp-filter unload vbd0
    report "xdp-filter" "$n" "${d:-0}" "$j"
  fi
done

echo
python3 - "$TMP/results" <<'PY'
import sys, collections
r = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    tool, n, d = line.split()
    r[int(n)][tool.split("/")[0]] = int(d)
for n in sorted(r):
    v = r[n].get("vigil", 0)
    parts = [f"{n:>7} rules: vigil/nftables {v / max(r[n].get('nftables', 1), 1):.2f}x"]
    if "xdp-filter" in r[n]:
        parts.append(f"vigil/xdp-filter {v / max(r[n]['xdp-filter'], 1):.2f}x")
    print("  ".join(parts))
sizes = sorted(r)
if len(sizes) > 1 and r[sizes[0]].get("vigil"):
    print(f"vigil at {sizes[-1]} rules vs {sizes[0]}: {r[sizes[-1]]['vigil'] / r[sizes[0]]['vigil']:.2f}x the drop rate")
PY
