# The kernel matrix (tests/kernels/, docs/testing.md): `make test-kernels` runs the e2e suite on
# the host and in QEMU guests booting Debian's 6.1 and 6.12 kernels, and writes
# build/kernel-matrix.txt. Included at the end of the main Makefile, so $(BUILD) and
# $(WORKLOADS) are known here and what test-e2e needs is built first.
#   make test-kernels                      host + every kernel in tests/kernels/kernels.conf
#   make test-kernels KERNELS="6.1"        one kernel (names from kernels.conf, and "host")
#   make test-kernels KERNELS="-j 2"       any tests/kernels/run.sh arguments
# Alone (make -f mk/kernels.mk ...) it builds only the stand-in and runs with what is built.

KERNELS ?=
KERNELS_E2E_DEPS ?= $(if $(BUILD),$(BUILD)/vigil $(WORKLOADS))
KERNELS_STANDIN := build/kernels/selftest/standin
KERNELS_CLANG ?= clang
KERNELS_BPFTOOL ?= bpftool

.PHONY: test-kernels kernels-standin kernels-fetch kernels-clean

# the harness self-test binary: a static libbpf program independent of vigil
build/kernels/selftest/standin.bpf.o: tests/kernels/selftest/standin.bpf.c
	@mkdir -p $(@D)
	$(KERNELS_CLANG) -g -O2 -target bpf -D__TARGET_ARCH_x86 -I/usr/include/x86_64-linux-gnu -c $< -o $@

build/kernels/selftest/standin.skel.h: build/kernels/selftest/standin.bpf.o
	$(KERNELS_BPFTOOL) gen skeleton $< name standin_bpf > $@.tmp && mv $@.tmp $@

$(KERNELS_STANDIN): tests/kernels/selftest/standin.c build/kernels/selftest/standin.skel.h
	$(CC) -O2 -Wall -static -Ibuild/kernels/selftest $< -o $@ -lbpf -lelf -lz -lzstd

kernels-standin: $(KERNELS_STANDIN)

kernels-fetch:
	tests/kernels/run.sh --fetch-only $(KERNELS)

test-kernels: $(KERNELS_STANDIN) $(KERNELS_E2E_DEPS)
	tests/kernels/run.sh $(KERNELS)

kernels-clean:
	rm -rf build/kernels build/kernel-matrix.txt
