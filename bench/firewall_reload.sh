#!/usr/bin/env bash
# Reload latency of a persistent firewall: wall time of `vigil firewall reload`
# (parse, compile, build and fill the new generation's maps, switch, wait for
# the RCU grace period) at 10, 1,000 and 100,000 rules, alternating between two
# files that differ in every rule (nothing is reused), REPS reloads each, median
# and max. Also the load (--persist) time. Prints times; asserts nothing.
# Usage: bench/firewall_reload.sh [SIZES...]   (root; REPS default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${*:-10 1000 100000}
REPS=${REPS:-5}
VIGIL=${VIGIL:-build/vigil}
NS=vbreload
for t in ip nsenter python3 bc; do
  command -v "$t" >/dev/null || { echo "bench/firewall_reload.sh: missing '$t': run scripts/deps.sh all" >&2; exit 1; }
done
[ -x "$VIGIL" ] || { echo "bench/firewall_reload.sh: no vigil at '$VIGIL': run make" >&2; exit 1; }
TMP=$(mktemp -d)
cleanup() {
  set +e
  nsenter --net=/run/netns/$NS "$VIGIL" firewall unload -i vr0 >/dev/null 2>&1
  ip netns del $NS 2>/dev/null
  rm -rf "$TMP"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns del $NS 2>/dev/null || true
ip netns add $NS
ip -n $NS link add vr0 type veth peer name vr1
ip -n $NS link set vr0 up; ip -n $NS link set vr1 up
inn() { nsenter --net=/run/netns/$NS "$@"; }
now() { date +%s.%N; }

printf "%8s %10s %14s %14s\n" rules "load s" "reload med s" "reload max s"
for n in $SIZES; do
  for f in a b; do
    python3 - "$n" "$f" > "$TMP/$f.rules" <<'PY'
import sys
n, f = int(sys.argv[1]), sys.argv[2]
base = 100 if f == "a" else 150
print("\n".join("drop from 10.%d.%d.%d" % (base + i // 65536, i // 256 % 256, i % 256) for i in range(n)))
PY
  done
  t0=$(now); inn "$VIGIL" firewall load -q -i vr0 --persist "$TMP/a.rules"; t1=$(now)
  load=$(echo "$t1 - $t0" | bc)
  : > "$TMP/times"
  for ((i = 0; i < REPS; i++)); do
    f=$([ $((i % 2)) -eq 0 ] && echo b || echo a)
    t0=$(now); inn "$VIGIL" firewall reload -q -i vr0 "$TMP/$f.rules"; t1=$(now)
    echo "$t1 - $t0" | bc >> "$TMP/times"
  done
  inn "$VIGIL" firewall unload -i vr0 >/dev/null
  sort -n "$TMP/times" | awk -v n="$n" -v l="$load" '{a[NR] = $1} END {
    printf "%8d %10.3f %14.3f %14.3f\n", n, l, a[int((NR + 1) / 2)], a[NR] }'
done
