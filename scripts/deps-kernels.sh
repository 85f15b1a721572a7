#!/usr/bin/env bash
# Install what the kernel-matrix harness (make test-kernels) needs, from Debian's apt only.
# The package list and the idempotent install live in scripts/deps.sh ("kernels").
# The kernels themselves are not installed: tests/kernels/run.sh fetches them with
# `apt-get download` into tests/kernels/cache/ (nothing touches /boot).
#
# qemu-system-x86: the guests (software emulation, no KVM needed)
# busybox-static:  the guest userland (/init, sh, mount, poweroff)
# cpio, gzip:      the initramfs (cpio newc, gzip)
# xz-utils, file:  decompressing Debian's .ko.xz modules; checking busybox is static
# python3, python3-pytest, bpftool, iproute2, util-linux, mount, procps, coreutils, dash, bash:
#                  carried into the guest for the e2e suite (with their libraries)
# clang, gcc, libbpf-dev, libelf-dev, zlib1g-dev, libzstd-dev: the harness's static stand-in
set -euo pipefail
exec "$(dirname "$0")/deps.sh" kernels
