#!/usr/bin/env bash
# Prefix lookup cost: per-length hash probes against one LPM trie walk, by the
# number of distinct source prefix lengths and the number of rules. Chooses
# VIGIL_FW_TRIE_LENS (the point past which `--lookup auto` takes the trie).
#
# Rules are `drop from P` with P a random prefix under 10.0.0.0/8 (seeded), the
# lengths spread evenly over the L longest (/32, /31, ...), duplicates removed.
# Per rule count, L and lookup (hash, trie), the firewall is loaded in the
# foreground on a throw-away veth and its program run with BPF_PROG_TEST_RUN
# (bench/firewall_gen.c `cost`, best of 3 x 1,000,000) on three packets:
#   miss     a source under no prefix (11.0.0.1): the hash probes all L lengths
#   long     a source under a /32 rule: the first hash probe hits
#   short    a source under a rule of the shortest length only: L probes again
# Prints ns per packet (the kernel's average, and wall_ns with decimals) and
# the trie/hash ratio per case. Asserts nothing.
# Usage: bench/firewall_lookup.sh [RULES...]   (root; default 100 10000 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${*:-100 10000 100000}
LENS=${LENS:-1 2 4 6 8 10 12 16 24}
VIGIL=${VIGIL:-build/vigil}
HELPER=build/bench/firewall_gen
for t in ip nsenter bpftool python3 cc; do
  command -v "$t" >/dev/null || { echo "bench/firewall_lookup.sh: missing '$t': run scripts/deps.sh all" >&2; exit 1; }
done
[ -x "$VIGIL" ] || { echo "bench/firewall_lookup.sh: no vigil at '$VIGIL': run make" >&2; exit 1; }
NS=vblook
TMP=$(mktemp -d)
PID=

cleanup() {
  set +e
  [ -n "$PID" ] && kill -INT "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  ip netns del $NS 2>/dev/null
  rm -rf "$TMP"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p build/bench
if [ ! -x $HELPER ] || [ bench/firewall_gen.c -nt $HELPER ]; then
  cc -O2 -Wall -o $HELPER bench/firewall_gen.c -lbpf -lpthread
fi
ip netns del $NS 2>/dev/null || true
ip netns add $NS
ip -n $NS link add vl0 type veth peer name vl1
ip -n $NS link set vl0 up; ip -n $NS link set vl1 up

gen() { # n L: writes $TMP/rules, prints "count long_src short_src"
  python3 - "$1" "$2" "$TMP/rules" <<'PY'
import random, sys, ipaddress
n, L, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rnd = random.Random(42)
lens = [32 - i for i in range(L)]
seen, out = set(), []
for i in range(n):
    l = lens[i % L]
    a = (10 << 24) | rnd.getrandbits(24)
    p = ipaddress.ip_network((a & ~((1 << (32 - l)) - 1), l))
    if p not in seen:
        seen.add(p); out.append(p)
open(path, "w").writelines(f"drop from {p}\n" for p in out)
longest = next(p for p in out if p.prefixlen == 32)
# a source under a shortest-length prefix and under nothing longer
by_len = {l: {int(p.network_address) for p in out if p.prefixlen == l} for l in lens}
def under(h, l): return (h & ~((1 << (32 - l)) - 1)) in by_len[l]
short = int(longest.network_address)
for p in (q for q in out if q.prefixlen == lens[-1]):
    cand = [int(p.network_address) + rnd.randrange(p.num_addresses) for _ in range(8)]
    ok = [h for h in cand if not any(under(h, l) for l in lens[:-1])]
    if ok:
        short = ok[0]; break
print(len(out), longest.network_address, ipaddress.ip_address(short))
PY
}

cost() { # prog src: best of 3 "ns wall_ns"
  for _ in 1 2 3; do $HELPER cost "$1" "$2" 10.250.0.2 1000000; done |
    sort -k6 -n | head -1 | awk '{print $2, $6}'
}

printf "%8s %7s %3s  %-5s %14s %14s %14s\n" rules entries L lookup "miss ns" "long ns" "short ns"
for n in $SIZES; do
  for L in $LENS; do
    [ "$L" -le "$n" ] || continue
    read -r cnt long short < <(gen "$n" "$L")
    declare -A r=()
    for lk in hash trie; do
      ip netns exec $NS "$VIGIL" firewall load -i vl0 --sample 0 --lookup $lk "$TMP/rules" >/dev/null 2>&1 &
      PID=$!
      id=
      for _ in $(seq 100); do
        sleep 0.2
        id=$(nsenter --net=/run/netns/$NS bpftool -j net show dev vl0 2>/dev/null |
          python3 -c 'import json,sys; x=json.load(sys.stdin)[0]["xdp"]; print(x[0]["id"] if x else "")')
        [ -n "$id" ] && break
      done
      [ -n "$id" ] || { echo "bench/firewall_lookup.sh: load failed ($n rules, L=$L, $lk)" >&2; exit 1; }
      m=$(cost "$id" 11.0.0.1); l=$(cost "$id" "$long"); s=$(cost "$id" "$short")
      kill -INT $PID; wait $PID 2>/dev/null || true; PID=
      printf "%8d %7d %3d  %-5s %14s %14s %14s\n" "$n" "$cnt" "$L" $lk "${m/ /  }" "${l/ /  }" "${s/ /  }"
      r[$lk]="$m $l $s"
    done
    echo "${r[hash]} ${r[trie]}" | awk -v n="$n" -v L="$L" '{
      printf "%8d %7s %3d  trie/hash wall: miss %.2fx  long %.2fx  short %.2fx\n", n, "", L, $8 / $2, $10 / $4, $12 / $6 }'
  done
done
