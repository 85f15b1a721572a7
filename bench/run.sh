#!/usr/bin/env bash
# Run every benchmark in bench/ (as root), each printing its own ratios.
# Usage: bench/run.sh [NAME...]   e.g. bench/run.sh proc
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/vigil ] || make
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in bench/*.py bench/*.sh; do
    b=$(basename "$f"); b=${b%.*}
    [ "$b" = run ] || names+=("$b")
  done
fi
for n in "${names[@]}"; do
  f=$(ls bench/"$n".py bench/"$n".sh 2>/dev/null | head -n1)
  [ -n "$f" ] || { echo "bench: no benchmark named '$n'" >&2; exit 2; }
  echo "== $n ($f)"
  "$f"
  echo
done
