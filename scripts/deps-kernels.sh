#!/usr/bin/env bash
# Install what the kernel-matrix harness (make test-kernels) needs, from Debian's apt only.
# The package list and the idempotent install live in scripts/deps.sh ("kernels").
# The kernels themselves are not installed: tests/kernels/run.sh fetches them with
# `apt-get download` into tests/kernels/cache/ (nothing touches /boot).
#
# The host half of the matrix runs the e2e suite and the guests carry its tools, so "kernels"
# is the build and test lists plus (kernels_pkgs in scripts/deps.sh):
# qemu-system-x86:        the guests (software emulation, no KVM needed)
# busybox-static:         the guest userland (/init, sh, mount, poweroff, depmod, modprobe)
# cpio, gzip:             the initramfs (cpio newc, gzip)
# xz-utils, zstd, file:   decompressing Debian's .ko.xz/.ko.zst modules; checking busybox is static
# python3, python3-pytest, bpftool, iproute2, util-linux, mount, procps, coreutils, dash, bash:
#                         carried into the guest for the e2e suite (with their libraries)
# clang, gcc, libbpf-dev, libelf-dev, zlib1g-dev, libzstd-dev (build list): the static stand-in
set -euo pipefail
exec "$(dirname "$0")/deps.sh" kernels
