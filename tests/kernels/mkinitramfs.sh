#!/usr/bin/env bash
# Build the kernel-matrix initramfs in three independent gzip'd cpio (newc) parts; the kernel
# unpacks concatenated archives, so run.sh boots `cat base.cpio.gz payload.cpio.gz modules.cpio.gz`.
#
#   mkinitramfs.sh base OUT.cpio.gz
#       busybox, Debian's python3 + pytest, bpftool/ip/tc/util-linux/coreutils/dash/bash with
#       their libraries. Depends only on host packages: run.sh caches it (see base_key there).
#   mkinitramfs.sh payload OUT.cpio.gz SUITE_DIR...
#       /init, vigil-payload and /vigil: build/vigil (or $VIGIL), the stand-in, tests/ and docs/
#       of this tree. SUITE_DIRs (relative to the tree) are what the guest's pytest runs.
#   mkinitramfs.sh modules KERNEL_TREE OUT.cpio.gz
#       the modules listed in tests/kernels/modules.txt (plus their dependencies) from an
#       extracted linux-image package, decompressed, with busybox depmod's index, and the
#       kernel's config as /boot/config-VERSION.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
die() { echo "mkinitramfs: $*" >&2; exit 1; }

stage=
cleanup() { if [ -n "$stage" ]; then rm -rf "$stage"; fi; }
trap cleanup EXIT

new_stage() {
	stage=$(mktemp -d "${TMPDIR:-/tmp}/vigil-initramfs.XXXXXX")
	mkdir -p "$stage"/usr/{bin,sbin,lib,lib64} "$stage"/{etc,root,tmp,proc,sys,dev,run,var}
	ln -s usr/bin "$stage/bin"
	ln -s usr/sbin "$stage/sbin"
	ln -s usr/lib "$stage/lib"
	ln -s usr/lib64 "$stage/lib64"
	ln -s ../run "$stage/var/run"
}

pack() { # OUT
	local out=$1
	mkdir -p "$(dirname "$out")"
	(cd "$stage" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc -R 0:0 --quiet) | gzip -6 >"$out.tmp"
	mv "$out.tmp" "$out"
}

add_file() { # SRC [DST]: copy, dereferencing symlinks, keeping mode and mtime (pyc validity)
	local src=$1 dst=${2:-$1}
	[ -e "$stage$dst" ] && return 0
	[ -e "$src" ] || die "cannot find '$src'"
	mkdir -p "$stage$(dirname "$dst")"
	cp -L --preserve=mode,timestamps "$src" "$stage$dst"
}

add_elf() { # SRC [DST]: a binary or shared object and every library ldd resolves for it
	local src=$1 dst=${2:-$1} lib
	add_file "$src" "$dst"
	while read -r lib; do
		add_file "$lib"
	done < <(ldd "$src" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
}

base() {
	local out=$1 f p py pyv
	py=$(readlink -f /usr/bin/python3)
	pyv=${py##*/python} # 3.11 on Debian 12
	[ -d "/usr/lib/python$pyv" ] || die "cannot find the standard library of '$py'"
	new_stage

	# busybox first: every applet as a symlink at its usual path; real tools copied below win
	add_file "$(command -v busybox)" /usr/bin/busybox
	file -L "$stage/usr/bin/busybox" | grep -q 'statically linked' ||
		die "'$(command -v busybox)' is not static: install busybox-static (scripts/deps-kernels.sh)"

	# real tools the e2e suite drives (GNU/util-linux/iproute2 options differ from busybox's)
	for f in /usr/sbin/bpftool /usr/sbin/ip /usr/sbin/tc /usr/bin/unshare /usr/bin/nsenter \
		/usr/bin/setpriv /usr/bin/taskset /usr/bin/ps /usr/bin/pgrep /usr/bin/pkill \
		/usr/bin/mount /usr/bin/umount "$py" /usr/bin/dash /usr/bin/bash; do
		add_elf "$f"
	done
	# iputils ping when the host has it (busybox's lacks some options)
	if [ -x /usr/bin/ping ]; then add_elf /usr/bin/ping; fi
	# /bin/sh is dash as on the host: busybox-static's ash runs its own applets before $PATH
	# (busybox ip/tc under `sh -c`), which is not what the tests mean
	ln -s dash "$stage/usr/bin/sh"
	ln -s "python$pyv" "$stage/usr/bin/python3"
	while read -r f; do
		case "$f" in /bin/* | /usr/bin/*) [ -f "$f" ] && add_elf "$f" "/usr/bin/${f##*/}" ;; esac
	done < <(dpkg -L coreutils)
	# an applet only where no real tool of that name exists in either bin directory
	while read -r f; do
		[ -e "$stage/usr/bin/${f##*/}" ] || [ -e "$stage/usr/sbin/${f##*/}" ] || ln -s /usr/bin/busybox "$stage/$f"
	done < <(busybox --list-full | sed -e 's,^bin/,usr/bin/,' -e 's,^sbin/,usr/sbin/,')

	# python: the stdlib minus what tests never import, with its compiled bytecode (no
	# compiling under emulation), the extension modules and their libraries, and pytest
	local l="python$pyv"
	tar -C /usr/lib -cf - \
		--exclude="$l/test" --exclude="$l/idlelib" --exclude="$l/tkinter" --exclude="$l/turtledemo" \
		--exclude="$l/lib2to3" --exclude="$l/ensurepip" --exclude="$l/pydoc_data" \
		--exclude="$l/config-$pyv-*" --exclude="$l/lib-dynload/_tkinter*" \
		--exclude='*.opt-1.pyc' --exclude='*.opt-2.pyc' \
		--exclude="$l/sitecustomize.py" --exclude="$l/site-packages" \
		"$l" | tar -C "$stage/usr/lib" -xf -
	for f in "$stage/usr/lib/$l"/lib-dynload/*.so; do
		while read -r p; do add_file "$p"; done < <(ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3}')
	done
	mkdir -p "$stage/usr/lib/python3/dist-packages"
	for p in _pytest pytest pluggy iniconfig py py.py attr attrs packaging more_itertools; do
		[ -e "/usr/lib/python3/dist-packages/$p" ] || continue
		cp -a "/usr/lib/python3/dist-packages/$p" "$stage/usr/lib/python3/dist-packages/"
	done
	[ -d "$stage/usr/lib/python3/dist-packages/_pytest" ] ||
		die "pytest is not installed for /usr/bin/python3 (python3-pytest; scripts/deps-kernels.sh)"

	echo "root:x:0:0:root:/root:/bin/sh" >"$stage/etc/passwd"
	echo "root:x:0:" >"$stage/etc/group"
	echo 'export PS1="vigil-guest:\w# "' >"$stage/etc/profile"
	pack "$out"
}

payload() {
	local out=$1; shift
	local suites=("$@") s
	[ ${#suites[@]} -gt 0 ] || die "no suite directories given"
	# the same merged-/usr symlinks as base: a library of a dynamic vigil lands in usr/lib, and
	# the kernel's unpacker would replace base's lib -> usr/lib symlink with a directory otherwise
	new_stage
	# this tree's binary, stand-in, tests and docs, and what to run
	mkdir -p "$stage/vigil/build/kernels/selftest" "$stage/usr/local/bin"
	if [ -x "${VIGIL:-$root/build/vigil}" ]; then
		add_elf "${VIGIL:-$root/build/vigil}" /vigil/build/vigil
	fi
	if [ -x "$root/build/kernels/selftest/standin" ]; then
		add_elf "$root/build/kernels/selftest/standin" /vigil/build/kernels/selftest/standin
	fi
	# the BPF objects: tests name the programs a command can load from their BTF
	mkdir -p "$stage/vigil/build/bpf"
	for f in "$root"/build/bpf/*.bpf.o; do
		[ -f "$f" ] && cp "$f" "$stage/vigil/build/bpf/"
	done
	# programs the e2e tests drive (Makefile: $(WORKLOADS)), with their libraries
	for f in "$root"/build/tests/workloads/*; do
		[ -f "$f" ] && [ -x "$f" ] && add_elf "$f" "/vigil/build/tests/workloads/${f##*/}"
	done
	local extra=() x
	for x in docs pytest.ini pyproject.toml setup.cfg tox.ini conftest.py; do
		if [ -e "$root/$x" ]; then extra+=("$x"); fi
	done
	tar -C "$root" -cf - --exclude=tests/kernels/cache --exclude=__pycache__ --exclude=.pytest_cache \
		tests "${extra[@]}" | tar -C "$stage/vigil" -xf -
	for s in "${suites[@]}"; do
		[ -e "$root/$s" ] || die "suite '$s' does not exist"
	done
	printf '%s\n' "${suites[*]}" >"$stage/vigil/.suites"
	install -m 0755 "$here/init" "$stage/init"
	install -m 0755 "$here/payload" "$stage/usr/local/bin/vigil-payload"
	pack "$out"
}

modules() {
	local tree=$1 out=$2 ver moddir m f dep
	[ -d "$tree/lib/modules" ] || die "no kernel modules in '$tree'"
	ver=$(ls "$tree/lib/modules" | head -n1)
	moddir="$tree/lib/modules/$ver"
	new_stage
	mkdir -p "$stage/lib/modules/$ver" "$stage/boot"
	cp "$tree/boot/config-$ver" "$stage/boot/config-$ver"
	# the package ships no modules.dep (its postinst runs depmod): index the .ko files by name
	# and follow each module's own depends= (from .modinfo) to close the set
	local -A path=() seen=()
	while read -r f; do
		m=${f##*/}; m=${m%%.ko*}; path[${m//-/_}]=$f
	done < <(cd "$moddir" && find kernel -name '*.ko*')
	local queue=()
	while read -r m; do
		m=${m%%#*}; m=${m//[[:space:]]/}
		[ -n "$m" ] && queue+=("${m//-/_}")
	done <"$here/modules.txt"
	while [ ${#queue[@]} -gt 0 ]; do
		m=${queue[0]}; queue=("${queue[@]:1}")
		[ -n "${seen[$m]:-}" ] && continue
		seen[$m]=1
		f=${path[$m]:-}
		[ -n "$f" ] || die "module '$m' is not in kernel '$ver' (built in? then drop it from modules.txt)"
		mkdir -p "$stage/lib/modules/$ver/$(dirname "$f")"
		local dst="$stage/lib/modules/$ver/${f%.ko*}.ko"
		case "$f" in
			*.ko.xz) xz -dc "$moddir/$f" >"$dst" ;;
			*.ko.zst) zstd -qdc "$moddir/$f" >"$dst" ;;
			*.ko.gz) gzip -dc "$moddir/$f" >"$dst" ;;
			*) cp "$moddir/$f" "$dst" ;;
		esac
		dep=$(tr '\0' '\n' <"$dst" | sed -n 's/^depends=//p' | head -n1)
		for m in ${dep//,/ }; do queue+=("${m//-/_}"); done
	done
	busybox depmod -b "$stage" "$ver" || die "busybox depmod failed for '$ver'"
	sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$here/modules.txt" >"$stage/etc/vigil-modules"
	pack "$out"
}

case "${1:-}" in
	base) [ $# -eq 2 ] || die "usage: $0 base OUT.cpio.gz"; base "$2" ;;
	payload) [ $# -ge 3 ] || die "usage: $0 payload OUT.cpio.gz SUITE_DIR..."; shift; payload "$@" ;;
	modules) [ $# -eq 3 ] || die "usage: $0 modules KERNEL_TREE OUT.cpio.gz"; modules "$2" "$3" ;;
	*) die "usage: $0 base OUT.cpio.gz | payload OUT.cpio.gz SUITE_DIR... | modules KERNEL_TREE OUT.cpio.gz" ;;
esac
