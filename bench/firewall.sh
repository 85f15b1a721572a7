#!/usr/bin/env bash
# Drop-rate and per-packet cost benchmark: vigil firewall vs an nftables set
# (netdev ingress) vs xdp-filter, at 10, 1,000 and 100,000 source-address rules.
#
# A veth pair joins namespaces vbgen (the flood) and vbdut (the filter). Every
# packet of the flood comes from the address of the last rule, so every packet
# is dropped. Per tool and rule count:
#   drops/s      packets dropped per second during the flood, from the filter's
#                own counter, with kernel.bpf_stats_enabled=0 (stats cost ~2 clock
#                reads per program run, which would tax only the XDP tools);
#   softirq, cpu softirq and all non-idle CPU seconds per million drops (/proc/stat;
#                tick-sampled: this kernel has no IRQ_TIME_ACCOUNTING);
#   run ns       XDP program only: run_time_ns/run_cnt during a second flood with
#                kernel.bpf_stats_enabled=1 (bpftool prog show);
#   test ns      XDP program only: BPF_PROG_TEST_RUN of the attached program on the
#                same frame, 1,000,000 repeats, kernel's average (no generator at all);
#                "floor" is the same for a program that only returns XDP_DROP.
# nftables has no program to time: its comparable figure is softirq per drop.
#
# Generators (GEN=...):
#   live     (default) bench/firewall_gen.c: BPF_PROG_TEST_RUN with
#            BPF_F_TEST_XDP_LIVE_FRAMES and an XDP_TX program on vbg0, THREADS
#            threads (default: number of CPUs) and as many veth queues; frames
#            reach vbd0 through veth's XDP/NAPI path. GRO is switched on on vbd0
#            (veth only runs NAPI, and so only accepts redirected frames, with
#            an XDP program or GRO on): nftables sees the skbs built from them.
#   trafgen  netsniff-ng trafgen through an AF_PACKET socket (the earlier runs).
#
# xdp-filter runs up to 10,000 rules: its filter_ipv4 map is compiled with
# max_entries 10000. Its addresses are written into its pinned map with one
# bpftool batch (the same key/value `xdp-filter ip ADDR -m src` writes: the
# address, and flag 1 = src on every CPU) instead of one CLI call per address.
#
# SHAPE=host6 makes every rule an IPv6 source address (vigil: `drop from fd00:100::X`;
# nftables: an ipv6_addr set and `ip6 saddr`; xdp-filter: `-f ipv6` and its filter_ipv6
# map); the flood is IPv6 (84-byte frames) from the last address to fd00:250::2.
#
# SHAPE=prefix makes every rule a /24 source prefix instead of a host address
# (vigil: `drop from A.B.C.0/24`; nftables: an interval set of the same prefixes;
# xdp-filter has no prefix match and is skipped); the flood comes from .1 of the
# last prefix. Host rules take vigil's hash path, prefixes its LPM trie path.
#
# Environment: GEN=live|trafgen, THREADS (generator threads = veth queues; default
# the number of CPUs), REPS (drop-rate floods per case, best kept; default 3),
# SHAPE=host|host6|prefix (default host).
# Fails (exit 1, saying why) rather than print a void row: a missing tool (scripts/deps.sh all),
# GRO that does not come on on vbd0, a generator that sent nothing, or a filter whose own
# counter shows no drops.
# Usage: bench/firewall.sh [SECONDS] [SIZES...]   (root; prints ratios)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}; shift || true
SIZES=${*:-10 1000 100000}
VIGIL=${VIGIL:-build/vigil}
GEN_MODE=${GEN:-live}
NCPU=$(nproc)
THREADS=${THREADS:-$NCPU}
REPS=${REPS:-3}
SHAPE=${SHAPE:-host}
case $SHAPE in host|host6|prefix) ;; *) echo "bench/firewall.sh: SHAPE must be host, host6 or prefix, got '$SHAPE'" >&2; exit 2;; esac
if [ "$SHAPE" = host6 ] && [ "$GEN_MODE" = trafgen ]; then
  echo "bench/firewall.sh: GEN=trafgen sends IPv4 only; use GEN=live with SHAPE=host6" >&2; exit 2
fi
DST=10.250.0.2 FAMILY=ipv4
[ "$SHAPE" = host6 ] && DST=fd00:250::2 FAMILY=ipv6
HELPER=build/bench/firewall_gen
GEN=vbgen DUT=vbdut
die() { echo "bench/firewall.sh: $*" >&2; exit 1; }
need=(ip nsenter ethtool nft xdp-filter bpftool python3 cc bc sysctl getconf)
[ "$GEN_MODE" = trafgen ] && need+=(trafgen)
for t in "${need[@]}"; do
  command -v "$t" >/dev/null || die "missing '$t': run scripts/deps.sh all"
done
[ -x "$VIGIL" ] || die "no vigil at '$VIGIL': run make"
TMP=$(mktemp -d)
STATS_OLD=$(sysctl -n kernel.bpf_stats_enabled)
inn() { nsenter --net=/run/netns/$DUT "$@"; }

cleanup() {
  set +e
  inn "$VIGIL" firewall unload -i vbd0 >/dev/null 2>&1
  inn xdp-filter unload vbd0 >/dev/null 2>&1 || { sleep 1; inn xdp-filter unload vbd0 >/dev/null 2>&1; }
  ip netns exec $DUT nft delete table netdev vbench >/dev/null 2>&1
  ip -n $DUT link set vbd0 xdp off >/dev/null 2>&1
  ip netns del $GEN 2>/dev/null
  ip netns del $DUT 2>/dev/null
  sysctl -q kernel.bpf_stats_enabled="$STATS_OLD"
  rm -rf "$TMP"
  # xdp-filter's pins (normally gone after unload) and libxdp's empty state dirs
  rm -rf /sys/fs/bpf/xdp-filter 2>/dev/null
  rmdir /sys/fs/bpf/xdp/* /sys/fs/bpf/xdp 2>/dev/null
  # a killed xdp-filter leaves its lock file, and every later call then fails
  if [ -f /run/xdp-filter.lck ] && ! kill -0 "$(cat /run/xdp-filter.lck 2>/dev/null)" 2>/dev/null; then
    rm -f /run/xdp-filter.lck
  fi
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup; TMP=$(mktemp -d)

mkdir -p build/bench
if [ ! -x $HELPER ] || [ bench/firewall_gen.c -nt $HELPER ]; then
  cc -O2 -Wall -o $HELPER bench/firewall_gen.c -lbpf -lpthread
fi

ip netns add $GEN; ip netns add $DUT
Q=$THREADS
ip link add vbg0 numtxqueues $Q numrxqueues $Q netns $GEN type veth peer name vbd0 \
  numtxqueues $Q numrxqueues $Q netns $DUT
ip -n $GEN addr add 10.250.0.1/16 dev vbg0; ip -n $DUT addr add 10.250.0.2/16 dev vbd0
ip -n $GEN addr add fd00:250::1/64 dev vbg0 nodad; ip -n $DUT addr add fd00:250::2/64 dev vbd0 nodad
ip -n $GEN link set vbg0 up; ip -n $DUT link set vbd0 up
ip netns exec $DUT ethtool -K vbd0 gro on
# without GRO (or an XDP program) veth runs no NAPI and drops the redirected frames before
# any filter: nftables would then "drop" nothing, and the comparison would be void
ip netns exec $DUT ethtool -k vbd0 | grep -qx 'generic-receive-offload: on' ||
  die "GRO is not on on vbd0 after 'ethtool -K vbd0 gro on': frames would not reach the filters"
MAC_DUT=$(ip -n $DUT -o link show vbd0 | sed 's/.*link\/ether \([^ ]*\).*/\1/')
MAC_GEN=$(ip -n $GEN -o link show vbg0 | sed 's/.*link\/ether \([^ ]*\).*/\1/')

# rule i drops source 10.(100 + i/65536).(i/256%256).(i%256) (SHAPE=prefix: the /24
# (11 + i/65536).(i/256%256).(i%256).0/24); the flood uses the last one (.1 of it)
addr() {
  if [ "$SHAPE" = prefix ]; then echo "$((11 + $1 / 65536)).$(($1 / 256 % 256)).$(($1 % 256)).1"
  elif [ "$SHAPE" = host6 ]; then printf "fd00:100::%x:%x\n" $(($1 / 65536)) $(($1 % 65536))
  else echo "10.$((100 + $1 / 65536)).$(($1 / 256 % 256)).$(($1 % 256))"; fi
}

gen_files() { # n: writes $TMP/rules (vigil), $TMP/nft, $TMP/xdpf (bpftool batch) in one go
  python3 - "$1" "$TMP" "$SHAPE" <<'PY'
import sys
n, d, shape = int(sys.argv[1]), sys.argv[2], sys.argv[3]
import ipaddress
if shape == "prefix":
    a = ["%d.%d.%d.0/24" % (11 + i // 65536, i // 256 % 256, i % 256) for i in range(n)]
    flags, typ, match = "  flags interval\n", "ipv4_addr", "ip saddr"
elif shape == "host6":
    a = ["fd00:100::%x:%x" % (i // 65536, i % 65536) for i in range(n)]
    flags, typ, match = "", "ipv6_addr", "ip6 saddr"
else:
    a = ["10.%d.%d.%d" % (100 + i // 65536, i // 256 % 256, i % 256) for i in range(n)]
    flags, typ, match = "", "ipv4_addr", "ip saddr"
with open(f"{d}/rules", "w") as f:
    f.writelines("drop from %s\n" % x for x in a)
with open(f"{d}/nft", "w") as f:
    f.write("table netdev vbench {\n set blk {\n  type " + typ + "\n" + flags + "  elements = {\n")
    f.writelines("   %s,\n" % x for x in a)
    f.write("  }\n }\n chain in {\n  type filter hook ingress device vbd0 priority 0;\n"
            "  " + match + " @blk counter drop\n }\n}\n")
with open(f"{d}/xdpf", "w") as f:
    for x in a:
        if "/" in x:
            continue
        key = " ".join(str(b) for b in ipaddress.ip_address(x).packed)
        f.write("map update pinned /sys/fs/bpf/xdp-filter/filter_%s key %s value 1 0 0 0 0 0 0 0\n"
                % ("ipv6" if ":" in x else "ipv4", key))
PY
}

cpustat() { awk '/^cpu /{print $7 + $8 + $9, $2 + $3 + $4 + $6 + $7 + $8 + $9}' /proc/stat; }

flood() { # src secs: floods; prints "softirq_jiffies busy_jiffies sent"
  local src=$1 secs=$2 s0 s1 sent=0
  s0=$(cpustat)
  if [ "$GEN_MODE" = trafgen ]; then
    cat > "$TMP/pkt.cfg" <<CFG
{ eth(da=$MAC_DUT, sa=$MAC_GEN, type=0x0800), ipv4(saddr=$src, daddr=10.250.0.2, ttl=64),
  udp(sport=40000, dport=9), fill(0x41, 18) }
CFG
    ip netns exec $GEN timeout -s INT "$secs" trafgen -o vbg0 -i "$TMP/pkt.cfg" -P "$THREADS" -q >/dev/null 2>&1 || true
  else
    sent=$(ip netns exec $GEN $HELPER flood vbg0 "$MAC_DUT" "$MAC_GEN" "$src" $DST "$secs" "$THREADS" | awk '{print $2}')
  fi
  s1=$(cpustat)
  echo "$s0 $s1 $sent" | awk '{print $3 - $1, $4 - $2, $5}'
}

prog_id() { inn bpftool -j net show dev vbd0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["xdp"][0]["id"])'; }
prog_stats() { bpftool -j prog show id "$1" | python3 -c 'import json,sys; p=json.load(sys.stdin); print(p.get("run_time_ns",0), p.get("run_cnt",0))'; }

# measure TOOL N SRC DROPCMD: REPS floods with stats off (the best one is kept: the
# machine may be shared), then (XDP tools) one flood with stats on, then test runs
measure() {
  local tool=$1 n=$2 src=$3 dropcmd=$4 id="" d0 d1 f best="" run=- test=- a b i
  sysctl -q kernel.bpf_stats_enabled=0
  for ((i = 0; i < REPS; i++)); do
    d0=$(eval "$dropcmd"); f=$(flood "$src" "$SECS"); d1=$(eval "$dropcmd")
    if [ -z "$best" ] || [ $((d1 - d0)) -gt "${best%% *}" ]; then best="$((d1 - d0)) $f"; fi
  done
  # a filter that dropped nothing measured nothing: stop, not a row of zeros
  [ "${best%% *}" -gt 0 ] || die "$tool at $n rules dropped 0 packets of the flood from $src (counter: $dropcmd)"
  if [ "$GEN_MODE" = live ]; then
    f=${best#* }; f=${f#* }; f=${f#* }
    [ "${f:-0}" -gt 0 ] || die "the generator sent 0 packets ($tool, $n rules)"
  fi
  if [ "$tool" != nftables ]; then
    id=$(prog_id)
    sysctl -q kernel.bpf_stats_enabled=1
    a=$(prog_stats "$id"); flood "$src" "$SECS" >/dev/null; b=$(prog_stats "$id")
    sysctl -q kernel.bpf_stats_enabled=0
    run=$(echo "$a $b" | awk '{printf "%.1f", ($4 > $2) ? ($3 - $1) / ($4 - $2) : 0}')
    [ "$run" != 0.0 ] || die "$tool: kernel.bpf_stats_enabled=1 counted no runs of program $id during a flood"
    test=$(for i in 1 2 3; do $HELPER cost "$id" "$src" $DST 1000000; done |
      awk '$4 != 1 {print "warning: test run verdict " $4 ", not XDP_DROP" > "/dev/stderr"} {print $2}' | sort -n | head -1)
  fi
  echo "$tool $n $best $run $test" >> "$TMP/results"
  echo "$tool $n $best $run $test" | awk -v s="$SECS" -v hz="$(getconf CLK_TCK)" '{
    m = ($3 > 0) ? $3 / 1e6 : 1
    sent = ($6 > 0) ? sprintf("%11.0f", $6 / s) : "          -"
    printf "%-12s %7d rules %11.0f drops/s (sent %s/s) %6.3f softirq-s %6.3f cpu-s per M drops  run %5s ns  test %4s ns\n",
      $1, $2, $3 / s, sent, $4 / hz / m, $5 / hz / m, $7, $8 }'
}

# xdp-filter serialises on /run/xdp-filter.lck and fails at once when it is taken;
# it leaves the file behind if it dies (e.g. SIGPIPE: read its output to the end)
xdpf() { local i; for ((i = 0; i < 50; i++)); do inn xdp-filter "$@" 2>/dev/null && return 0; sleep 0.2; done; inn xdp-filter "$@"; }

floor=$($HELPER cost 0 "$(addr 0)" $DST 1000000 | awk '{print $2}')
echo "generator: $GEN_MODE, $THREADS thread(s), $Q veth queue(s); ${SECS}s floods; rules: $SHAPE; test-run floor (XDP_DROP only): $floor ns"

for n in $SIZES; do
  last=$(addr $((n - 1)))
  t0=$(date +%s.%N); gen_files "$n"
  echo "# $n rules: files generated in $(echo "$(date +%s.%N) - $t0" | bc) s"

  # ---- vigil ----
  t0=$(date +%s.%N)
  inn "$VIGIL" firewall load -i vbd0 --persist --sample 0 "$TMP/rules"
  mode=$(inn "$VIGIL" firewall status -i vbd0 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["mode"])')
  echo "# vigil load ($mode): $(echo "$(date +%s.%N) - $t0" | bc) s"
  measure "vigil/$mode" "$n" "$last" "inn $VIGIL firewall status -i vbd0 --json |
      python3 -c 'import json,sys; print(sum(r[\"drops\"] for r in json.load(sys.stdin)[\"rules\"]))'"
  inn "$VIGIL" firewall unload -i vbd0 2>/dev/null

  # ---- nftables: the same addresses as one set, netdev ingress ----
  t0=$(date +%s.%N)
  ip netns exec $DUT nft -f "$TMP/nft"
  echo "# nft load: $(echo "$(date +%s.%N) - $t0" | bc) s"
  measure nftables "$n" "$last" "ip netns exec $DUT nft -j list chain netdev vbench in |
      python3 -c 'import json,sys
for o in json.load(sys.stdin)[\"nftables\"]:
    for e in o.get(\"rule\", {}).get(\"expr\", []):
        if \"counter\" in e: print(e[\"counter\"][\"packets\"])'"
  ip netns exec $DUT nft delete table netdev vbench

  # ---- xdp-filter (its map holds at most 10,000 addresses) ----
  if [ "$SHAPE" = prefix ]; then
    echo "# xdp-filter: skipped with SHAPE=prefix (it matches exact addresses only)"
  elif [ "$n" -le 10000 ]; then
    t0=$(date +%s.%N)
    xdpf load vbd0 -m native -f $FAMILY >/dev/null
    bpftool batch file "$TMP/xdpf" >/dev/null
    echo "# xdp-filter load + $n addresses: $(echo "$(date +%s.%N) - $t0" | bc) s"
    measure xdp-filter "$n" "$last" "xdpf status | awk '/XDP_DROP/ && !x {print \$2; x = 1}'"
    xdpf unload vbd0
  else
    echo "# xdp-filter: skipped at $n rules (filter_ipv4 has max_entries 10000)"
  fi
done

echo
python3 - "$TMP/results" "$floor" <<'PY'
import sys, collections
r = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    f = line.split()
    r[int(f[1])][f[0].split("/")[0]] = dict(d=int(f[2]), sj=int(f[3]),
        run=float(f[6]) if f[6] != "-" else None, test=float(f[7]) if f[7] != "-" else None)
def q(a, b): return f"{a / b:.2f}x" if b else "n/a"
for n in sorted(r):
    v = r[n].get("vigil", {})
    if not v: continue
    parts = [f"{n:>7} rules: drops vigil/nftables {q(v['d'], r[n].get('nftables', {}).get('d', 0))}"]
    x = r[n].get("xdp-filter")
    if x:
        parts.append(f"vigil/xdp-filter {q(v['d'], x['d'])}; ns/pkt (run, test) "
                     f"vigil {v['run']:.1f}, {v['test']:.0f}  xdp-filter {x['run']:.1f}, {x['test']:.0f}")
    else:
        parts.append(f"ns/pkt (run, test) vigil {v['run']:.1f}, {v['test']:.0f}")
    print("  ".join(parts))
sizes = [n for n in sorted(r) if "vigil" in r[n]]
if len(sizes) > 1:
    a, b = r[sizes[0]]["vigil"], r[sizes[-1]]["vigil"]
    print(f"vigil at {sizes[-1]} rules vs {sizes[0]}: drop rate {q(b['d'], a['d'])}, "
          f"run ns {q(b['run'], a['run'])}, test ns {q(b['test'], a['test'])} "
          f"(test ns above the {sys.argv[2]} ns floor: {q(b['test'] - float(sys.argv[2]), a['test'] - float(sys.argv[2]))})")
PY
