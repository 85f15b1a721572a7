#!/usr/bin/env bash
# Install everything vigil needs to build, test and benchmark, from Debian's apt only.
# Idempotent: packages already present are skipped, so repeated runs are cheap.
#   scripts/deps.sh [build|test|all|kernels]   (default: all)
# Every program that tests/, bench/, .ci/ or mk/ start must come from one of these lists
# (docs/testing.md, "A fresh machine").
set -euo pipefail

# build/vigil, the workloads, `make deb` (dpkg-deb comes with dpkg)
build_pkgs=(
  make gcc clang llvm pkg-config file
  libbpf-dev bpftool linux-libc-dev libelf-dev zlib1g-dev libzstd-dev libyaml-dev liblzma-dev
)
# make test: the e2e suite and what it drives or compares against
test_pkgs=(
  python3 python3-pytest python3-yaml
  iproute2 iputils-ping nftables xdp-tools netsniff-ng ethtool curl iperf3
  procps util-linux busybox-static systemd   # systemd: systemd-analyze verify of deploy/vigil.service
  bpftrace libbpf-tools
  libclang-rt-14-dev                       # make fuzz-rules (libFuzzer, ASan)
  prometheus podman runc                   # agent metrics and containers (runc: see kernel-facts)
  docker.io                                # live docker test of vigil containers
  fio stress-ng                            # disk and load workloads
  e2fsprogs                                # mkfs.ext4: the file test's loop device
  chromium                                 # profile: the flame graph SVG rendered headless
  linux-perf                               # profile: perf record side by side
  strace                                   # vigil security: strace -p gives a ptrace event
)
# bench/: the anchors it measures against, and bc for its timings
bench_pkgs=(hyperfine strace linux-perf bc)
# make test-kernels (tests/kernels/): QEMU guests; the host half runs the e2e suite, so the
# build and test lists come too. The rest is what mkinitramfs.sh copies into the guest.
kernels_pkgs=(
  qemu-system-x86                          # the guests (TCG, no KVM needed)
  busybox-static                           # the guest userland
  cpio gzip xz-utils zstd                  # the initramfs; Debian's .ko.xz/.ko.zst modules
  python3 python3-pytest bpftool iproute2 util-linux mount procps coreutils dash bash
)

want=("${build_pkgs[@]}")
case "${1:-all}" in
  build) ;;
  test) want+=("${test_pkgs[@]}") ;;
  all) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  kernels) want+=("${test_pkgs[@]}" "${kernels_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|all|kernels]" >&2; exit 2 ;;
esac

declare -A seen=()
missing=()
for p in "${want[@]}"; do
  [ -n "${seen[$p]:-}" ] && continue
  seen[$p]=1
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: need root to install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
