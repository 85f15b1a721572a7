#!/usr/bin/env bash
# Fuzz the firewall rules parser and compiler (libFuzzer, ASan, UBSan) for
# SECONDS, starting from the corpus in tests/fuzz/corpus/rules; new inputs
# go to build/fuzz/corpus-rules. A crash fails with its input saved as
# build/fuzz/crash-*. With --update-corpus, the corpus in the repository is
# replaced by the minimized union of both (commit it).
# Then the guard policy parser, resolver and compiler (tests/fuzz/fuzz_guard.c)
# for GUARD_SECONDS (default 20: CI's run grows by that much), from
# tests/fuzz/corpus/guard (hand-written seeds only), crashes as
# build/fuzz/guard-crash-*.
#
#   scripts/fuzz.sh 120                  # what CI runs
#   scripts/fuzz.sh 600 --update-corpus
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:?usage: scripts/fuzz.sh SECONDS [--update-corpus]}
[[ $secs =~ ^[0-9]+$ ]] || { echo "fuzz.sh: invalid SECONDS '$secs'" >&2; exit 2; }
make build/fuzz/fuzz_rules
make fuzz-rules FUZZ_SECONDS="$secs"
gsecs=${GUARD_SECONDS:-20}
[[ $gsecs =~ ^[0-9]+$ ]] || { echo "fuzz.sh: invalid GUARD_SECONDS '$gsecs'" >&2; exit 2; }
if (( gsecs > 0 )); then
	make build/fuzz/fuzz_guard
	make fuzz-guard FUZZ_SECONDS="$gsecs"
fi
if [[ ${2:-} == --update-corpus ]]; then
	repo=tests/fuzz/corpus/rules
	tmp=$(mktemp -d build/fuzz/merge.XXXXXX)
	build/fuzz/fuzz_rules -merge=1 -max_len=2048 "$tmp" "$repo" build/fuzz/corpus-rules
	# the hand-written seeds (*.rules) stay under their names; the merge
	# names the rest by their SHA-1, which skips the seeds' own copies
	find "$repo" -type f ! -name '*.rules' -delete
	seeds=$(sha1sum "$repo"/*.rules | cut -d' ' -f1)
	for f in "$tmp"/*; do
		[[ -e $f ]] || continue
		grep -qx "$(basename "$f")" <<<"$seeds" || cp "$f" "$repo/"
	done
	rm -rf "$tmp"
	echo "fuzz.sh: $(ls "$repo" | wc -l) inputs, $(du -sb "$repo" | cut -f1) bytes in $repo"
fi
