#!/usr/bin/env bash
# The kernel matrix: run vigil's e2e suite on this host and inside QEMU guests booting Debian's
# kernels (tests/kernels/kernels.conf), then print and write a kernel x test matrix.
#
#   tests/kernels/run.sh                 host + every kernel in kernels.conf
#   tests/kernels/run.sh 6.1             one kernel (names: kernels.conf, or "host")
#   tests/kernels/run.sh --shell 6.12    boot a guest with a shell on this terminal
#   tests/kernels/run.sh --fetch-only    download and extract the kernels, nothing else
#   tests/kernels/run.sh --selftest      only the harness self-test (no vigil, no e2e suite)
#   tests/kernels/run.sh -j 1            one guest at a time (default: two when there are 2+ CPUs)
#
# Exit status: 0 every test passed or skipped everywhere, 1 a test failed, a guest did not
# boot, panicked, timed out or printed no result markers, 2 usage error.
# See docs/testing.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
conf="$here/kernels.conf"
cache="${VIGIL_KERNELS_CACHE:-$here/cache}"
out="${VIGIL_KERNELS_OUT:-$root/build/kernels}"
matrix="${VIGIL_KERNELS_MATRIX:-$root/build/kernel-matrix.txt}"
timeout_s="${VIGIL_KERNELS_TIMEOUT:-3600}"
mem="${VIGIL_KERNELS_MEM:-1024}"
jobs="${VIGIL_KERNELS_JOBS:-$(($(nproc) >= 2 ? 2 : 1))}"
read -r -a qemu_extra <<<"${VIGIL_KERNELS_QEMU_ARGS:-}"
py=/usr/bin/python3
lsm="lockdown,capability,landlock,yama,apparmor,bpf"

die() { echo "kernels: $*" >&2; exit 1; }
note() { echo "kernels: $*" >&2; }
usage() { # [STATUS]
	sed -n '2,14s/^# \{0,1\}//p' "$0" >&2
	exit "${1:-2}"
}
usage_error() { echo "kernels: $*" >&2; exit 2; }

shell=0 fetch_only=0 selftest=0 names=()
while [ $# -gt 0 ]; do
	case "$1" in
		--shell) shell=1 ;;
		--fetch-only) fetch_only=1 ;;
		--selftest) selftest=1 ;;
		--timeout) [ $# -ge 2 ] || usage; timeout_s=$2; shift ;;
		-j | --jobs) [ $# -ge 2 ] || usage; jobs=$2; shift ;;
		-h | --help) usage 0 ;;
		-*) usage_error "unknown option '$1' (see --help)" ;;
		*) names+=("$1") ;;
	esac
	shift
done

[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || usage_error "invalid job count '$jobs'"
[[ "$timeout_s" =~ ^[1-9][0-9]*$ ]] || usage_error "invalid timeout '$timeout_s'"

# kernels.conf -> parallel arrays
k_names=() k_regex=() k_expect=()
while read -r n r e _; do
	case "$n" in '' | '#'*) continue ;; esac
	k_names+=("$n") k_regex+=("$r") k_expect+=("${e:--}")
done <"$conf"
conf_index() { # NAME -> index in k_names, or fail
	local i
	for i in "${!k_names[@]}"; do
		[ "${k_names[$i]}" = "$1" ] && { echo "$i"; return 0; }
	done
	return 1
}
if [ ${#names[@]} -eq 0 ]; then
	[ $shell -eq 0 ] || usage_error "--shell needs a kernel name (one of: ${k_names[*]})"
	names=(host "${k_names[@]}")
fi
for n in "${names[@]}"; do
	[ "$n" = host ] || conf_index "$n" >/dev/null || usage_error "unknown kernel '$n' (kernels.conf has: ${k_names[*]})"
done
if [ $shell -eq 1 ] && { [ ${#names[@]} -ne 1 ] || [ "${names[0]}" = host ]; }; then
	usage_error "--shell takes exactly one guest kernel"
fi

need() { command -v "$1" >/dev/null 2>&1 || die "missing '$1': run scripts/deps-kernels.sh"; }
need apt-get; need dpkg-deb; need xz

# fetch NAME: print the extracted package tree of the newest kernel matching its regex.
# Uses the cache when the newest is already there; falls back to the newest cached one when apt
# cannot download (offline), with a note.
fetch() {
	local i regex pkg tree cached deb
	i=$(conf_index "$1")
	regex=${k_regex[$i]}
	pkg=$(apt-cache pkgnames linux-image- 2>/dev/null | grep -E "$regex" | sort -V | tail -n1 || true)
	cached=$(ls -d "$cache"/*/.complete 2>/dev/null | sed 's,/\.complete$,,; s,.*/,,' | grep -E "$regex" | sort -V | tail -n1 || true)
	if [ -z "$pkg" ]; then
		[ -n "$cached" ] || die "no package matches '$regex' (apt-get update?) and none is cached"
		note "$1: apt knows no package matching '$regex'; using cached '$cached'"
		pkg=$cached
	fi
	tree="$cache/$pkg"
	if [ ! -f "$tree/.complete" ]; then
		mkdir -p "$cache/dl"
		rm -f "$cache/dl/${pkg}"_*.deb
		note "$1: downloading $pkg"
		if ! (cd "$cache/dl" && apt-get download -q "$pkg" >&2 2>/dev/null); then
			[ -n "$cached" ] || die "cannot download '$pkg' and nothing matching '$regex' is cached"
			note "$1: cannot download '$pkg'; using cached '$cached'"
			echo "$cache/$cached"
			return 0
		fi
		deb=$(ls "$cache/dl/${pkg}"_*.deb 2>/dev/null | head -n1)
		[ -n "$deb" ] || die "apt-get download left no .deb for '$pkg'"
		rm -rf "$tree"
		mkdir -p "$tree"
		dpkg-deb -x "$deb" "$tree" || die "cannot extract '$deb'"
		ls "$tree"/boot/vmlinuz-* >/dev/null 2>&1 || die "no vmlinuz in '$deb'"
		touch "$tree/.complete"
		rm -f "$deb"
	fi
	echo "$tree"
}

if [ $fetch_only -eq 1 ]; then
	for n in "${names[@]}"; do
		[ "$n" = host ] || echo "$n: $(fetch "$n")"
	done
	exit 0
fi

need qemu-system-x86_64; need busybox; need cpio; need gzip
[ -x "$py" ] || die "missing '$py': run scripts/deps-kernels.sh"
"$py" -c 'import pytest' 2>/dev/null || die "pytest is missing for '$py': run scripts/deps-kernels.sh"

# what runs: the e2e suite when it exists, guest-only checks in guests, the harness self-test
suites=()
if [ $selftest -eq 1 ]; then
	note "--selftest: running the harness self-test only"
elif [ -d "$root/tests/e2e" ] && ls "$root"/tests/e2e/test_*.py >/dev/null 2>&1; then
	# VIGIL_KERNELS_E2E narrows the e2e suite: "tests/e2e/test_filetop.py", say
	read -r -a e2e <<<"${VIGIL_KERNELS_E2E:-tests/e2e}"
	suites+=("${e2e[@]}")
else
	note "no e2e suite in 'tests/e2e' yet: running the harness self-test only"
fi
host_suites=("${suites[@]}" tests/kernels/selftest)
if [ $selftest -eq 1 ]; then
	guest_suites=(tests/kernels/guest/test_guest_kernel.py tests/kernels/selftest)
else
	guest_suites=("${suites[@]}" tests/kernels/guest tests/kernels/selftest)
fi
vigil_bin=${VIGIL:-$root/build/vigil}
[ -x "$vigil_bin" ] || note "no vigil binary at '$vigil_bin': vigil's tests will fail (build it, or use --selftest)"
[ -x "$root/build/kernels/selftest/standin" ] || die "no stand-in at 'build/kernels/selftest/standin': run 'make -f mk/kernels.mk kernels-standin'"

mkdir -p "$out"
rm -f "$matrix"
run_host() {
	local d="$out/host" rc=0 t0 t1
	rm -rf "$d"; mkdir -p "$d"
	# the guests get tracefs at /sys/kernel/tracing; give the host the same view
	if ! grep -q ' /sys/kernel/tracing tracefs ' /proc/mounts; then
		mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || note "host: cannot mount tracefs"
	fi
	note "host: running ${host_suites[*]}"
	t0=$(date +%s.%N)
	echo "BEGIN $(uname -r)" >"$d/results.txt"
	(cd "$root" && VIGIL="$vigil_bin" VIGIL_RESULTS="$d/results.txt" PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" \
		"$py" -m pytest -p no:cacheprovider -p resultport -rA --durations=10 "${host_suites[@]}" >"$d/console.log" 2>&1) || rc=$?
	echo "END $rc" >>"$d/results.txt"
	t1=$(date +%s.%N)
	printf 'host\t%s\t%.1f\t-\n' "$(uname -r)" "$(awk "BEGIN { print $t1 - $t0 }")" >"$d/meta"
}

# The base part (busybox, python, tools) depends only on host packages and mkinitramfs.sh: it is
# rebuilt when its key changes. The payload part (vigil, tests, /init) is rebuilt every run.
base_key() {
	{
		sha256sum "$here/mkinitramfs.sh"
		dpkg-query -W busybox-static python3.11 python3-pytest bpftool iproute2 coreutils util-linux \
			procps mount dash bash libc6 2>/dev/null
	} | sha256sum | cut -c1-16
}

guest_initramfs() {
	local key t0 t1
	key=$(base_key)
	if [ ! -f "$out/base-$key.cpio.gz" ]; then
		note "building the guest base initramfs (busybox, python3, pytest, tools)"
		t0=$(date +%s)
		rm -f "$out"/base-*.cpio.gz
		"$here/mkinitramfs.sh" base "$out/base-$key.cpio.gz"
		t1=$(date +%s)
		note "base initramfs: $(du -h "$out/base-$key.cpio.gz" | cut -f1) compressed, built in $((t1 - t0)) s"
	fi
	note "building the guest payload (${guest_suites[*]})"
	VIGIL="$vigil_bin" "$here/mkinitramfs.sh" payload "$out/payload.cpio.gz" "${guest_suites[@]}"
	cat "$out/base-$key.cpio.gz" "$out/payload.cpio.gz" >"$out/common.cpio.gz"
	note "initramfs without modules: $(du -h "$out/common.cpio.gz" | cut -f1) compressed, $(zcat "$out/common.cpio.gz" | wc -c | awk '{printf "%.0f MiB", $1/1048576}') unpacked"
}

prepare_guest() { # NAME: fetch the kernel, build its initramfs (sequential: apt and the cache)
	local n=$1 tree vmlinuz d
	tree=$(fetch "$n")
	vmlinuz=$(ls "$tree"/boot/vmlinuz-* | head -n1)
	d="$out/$n"
	rm -rf "$d"; mkdir -p "$d"
	"$here/mkinitramfs.sh" modules "$tree" "$d/modules.cpio.gz"
	cat "$out/common.cpio.gz" "$d/modules.cpio.gz" >"$d/initramfs.gz"
	echo "$vmlinuz" >"$d/vmlinuz"
}

boot_guest() { # NAME: boot it, run the payload, keep console.log, results.txt and meta
	local n=$1 i d vmlinuz ver rc=0 t0 t1 expect
	i=$(conf_index "$n")
	expect=${k_expect[$i]}
	d="$out/$n"
	vmlinuz=$(cat "$d/vmlinuz")
	ver=${vmlinuz##*/vmlinuz-}
	# tsc: a vDSO clock as on real hardware (6.1 picks hpet under TCG, and clock_gettime() then
	# becomes a real syscall that syscall-counting tests see)
	local append="console=ttyS0 panic=-1 lsm=$lsm clocksource=tsc tsc=reliable vigil_expect=${expect/#-/}"
	# thread=single: with one host thread per vCPU (MTTCG), a vCPU can run a stale
	# translation of kernel text that another vCPU is live-patching through int3
	# (text_poke_bp, e.g. the syscall tracepoints' static keys as programs attach),
	# which oopses the guest ("Oops: int3" in syscall_exit_to_user_mode_prepare,
	# seen on 6.12). One thread for both vCPUs keeps code patching coherent.
	local qemu=(qemu-system-x86_64 -nographic -m "$mem" -smp 2 -accel tcg,thread=single
		-no-reboot -nic none
		-kernel "$vmlinuz" -initrd "$d/initramfs.gz" "${qemu_extra[@]}")
	if [ $shell -eq 1 ]; then
		note "$n: booting $ver with a shell; 'vigil-payload' runs the suite, 'exit' powers off"
		exec "${qemu[@]}" -append "$append vigil_shell=1" -serial mon:stdio -serial "file:$d/results.txt"
	fi
	note "$n: booting $ver (timeout ${timeout_s} s)"
	t0=$(date +%s.%N)
	timeout -k 10 "$timeout_s" "${qemu[@]}" -append "$append" -monitor none \
		-serial stdio -serial "file:$d/results.txt" </dev/null >"$d/console.log" 2>&1 || rc=$?
	t1=$(date +%s.%N)
	printf '%s\t%s\t%.1f\t%s\t%s\n' "$n" "$ver" "$(awk "BEGIN { print $t1 - $t0 }")" "$rc" "$timeout_s" >"$d/meta"
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then note "$n: timed out after ${timeout_s} s"; else note "$n: done"; fi
}

guest_names=()
for n in "${names[@]}"; do [ "$n" = host ] || guest_names+=("$n"); done
if [ ${#guest_names[@]} -gt 0 ]; then
	guest_initramfs
	for n in "${guest_names[@]}"; do prepare_guest "$n"; done
fi
if [ $shell -eq 1 ]; then
	boot_guest "${guest_names[0]}"
fi
for n in "${names[@]}"; do
	if [ "$n" = host ]; then run_host; fi
done
# guests, at most $jobs at a time (each is one qemu process with two vCPU threads)
running=0
for n in "${guest_names[@]}"; do
	boot_guest "$n" &
	running=$((running + 1))
	if [ $running -ge "$jobs" ]; then
		wait -n || true
		running=$((running - 1))
	fi
done
wait
results=()
for n in "${names[@]}"; do results+=("$out/$n"); done
"$py" "$here/matrix.py" --out "$matrix" "${results[@]}"
