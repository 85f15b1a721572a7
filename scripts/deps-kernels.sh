#!/usr/bin/env bash
# Install what the kernel-matrix harness (make test-kernels) needs, from Debian's apt only.
# Idempotent: packages already present are skipped, so repeated runs are cheap.
# The kernels themselves are not installed: tests/kernels/run.sh fetches them with
# `apt-get download` into tests/kernels/cache/ (nothing touches /boot).
set -euo pipefail

# qemu-system-x86: the guests (software emulation, no KVM needed)
# busybox-static:  the guest userland (/init, sh, mount, poweroff)
# cpio, gzip:      the initramfs (cpio newc, gzip)
# xz-utils, file:   decompressing Debian's .ko.xz modules; checking busybox is static
# python3, python3-pytest, bpftool, iproute2, util-linux, mount, procps, coreutils, dash, bash:
#                   carried into the guest for the e2e suite (with their libraries)
# clang, gcc, libbpf-dev, libelf-dev, zlib1g-dev, libzstd-dev: the harness's static stand-in
# dpkg-deb and apt-get come with dpkg and apt themselves
want=(qemu-system-x86 busybox-static cpio gzip xz-utils file
      python3 python3-pytest bpftool iproute2 util-linux mount procps coreutils dash bash
      clang gcc libbpf-dev libelf-dev zlib1g-dev libzstd-dev)

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps-kernels: need root to install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
