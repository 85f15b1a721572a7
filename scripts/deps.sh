#!/usr/bin/env bash
# Install everything vigil needs to build, test and benchmark, from Debian's apt only.
# Idempotent: packages already present are skipped, so repeated runs are cheap.
set -euo pipefail

build_pkgs=(make gcc clang llvm libbpf-dev linux-libc-dev bpftool libelf-dev zlib1g-dev libzstd-dev pkg-config file)
test_pkgs=(python3 python3-pytest iproute2 iputils-ping nftables xdp-tools netsniff-ng libclang-rt-14-dev bpftrace busybox-static procps util-linux)
test_pkgs+=(docker.io)  # live docker test of vigil containers (tests/e2e/test_containers.py)
bench_pkgs=(hyperfine strace linux-perf)

want=("${build_pkgs[@]}")
case "${1:-all}" in
  build) ;;
  test) want+=("${test_pkgs[@]}") ;;
  all) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  kernels) want=("${kernels_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|all|kernels]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
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
