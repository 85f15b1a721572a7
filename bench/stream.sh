#!/bin/bash
# The engine's NDJSON stream: events per consumer CPU-second of `vigil syscall` streaming
# N getppid calls of sc_loop to /dev/null (a ring buffer large enough to lose nothing).
#   bench/stream.sh [VIGIL] [CALLS]        root; prints received/lost and events per CPU-s
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
V=${1:-$here/build/vigil}
N=${2:-1000000}
err=$(mktemp)
trap 'rm -f "$err"' EXIT
"$V" syscall -c sc_loop -s getppid --json -o /dev/null --ringbuf-size 256M 2>"$err" &
P=$!
while ! grep -q attached "$err"; do sleep 0.05; done
read -r -a s0 < /proc/$P/stat
"$here/build/tests/workloads/sc_loop" getppid "$N" 2>/dev/null
# the consumer may still be draining a deep ring buffer: read its CPU time once it is idle
prev=-1
while :; do
	sleep 0.3
	read -r -a s1 < /proc/$P/stat
	[ $(( s1[13] + s1[14] )) -eq $prev ] && break
	prev=$(( s1[13] + s1[14] ))
done
kill -INT $P
wait $P || true
# utime + stime, fields 14 and 15 (comm has no spaces here)
t=$(( s1[13] + s1[14] - s0[13] - s0[14] ))
grep received "$err"
echo "consumer CPU: $t ticks -> events per CPU-second: $(( N * $(getconf CLK_TCK) / (t > 0 ? t : 1) ))"
