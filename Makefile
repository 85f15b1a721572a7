# vigil: one `make` builds BPF objects -> skeletons -> one static binary.
CLANG ?= clang
BPFTOOL ?= bpftool
LLVM_STRIP ?= llvm-strip
PYTHON ?= python3
CC ?= gcc
BUILD ?= build

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
BPF_CFLAGS := -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Iinclude -Ibpf
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	-Iinclude -Isrc -I$(BUILD)/skel -I$(BUILD)/gen
LDLIBS := -lbpf -lelf -lz -lzstd -lyaml -llzma

BPF_SRCS := $(wildcard bpf/*.bpf.c)
SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/skel/%.skel.h,$(BPF_SRCS))
# src/fw: the firewall's compiler and datapath, callable without the CLI
CORE_SRCS := $(wildcard src/core/*.c src/fw/*.c src/guard/*.c)
CMD_SRCS := $(wildcard src/cmd/*.c)
CORE_OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(CORE_SRCS))
CMD_OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(CMD_SRCS) src/main.c)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
HDRS := $(wildcard include/vigil/*.h src/core/*.h src/fw/*.h src/guard/*.h src/cmd/*.h)

PYTEST ?= /usr/bin/python3 -m pytest

.PHONY: all clean vmlinux test test-unit test-e2e deps run bench fuzz-rules fuzz-guard install uninstall deb
.DELETE_ON_ERROR:
# keep BPF objects and skeletons: they are inputs of several rules
.SECONDARY:

all: $(BUILD)/vigil

# DWARF and BTF line info are dropped from the embedded objects (half their size);
# BTF, func info and CO-RE records stay. The whole object is kept as %.bpf.full.o.
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c bpf/*.h include/vigil/*.h scripts/bpf-slim.py | $(BUILD)/bpf
	$(CLANG) $(BPF_CFLAGS) -c $< -o $(@:.o=.full.o)
	cp $(@:.o=.full.o) $@
	$(LLVM_STRIP) -g $@
	$(PYTHON) scripts/bpf-slim.py $@

$(BUILD)/skel/%.skel.h: $(BUILD)/bpf/%.bpf.o | $(BUILD)/skel
	$(BPFTOOL) gen skeleton $< name $*_bpf > $@

$(BUILD)/obj/%.o: src/%.c $(HDRS) $(SKELS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The x86_64 syscall name table, generated from the kernel's list (linux-libc-dev).
UNISTD ?= /usr/include/x86_64-linux-gnu/asm/unistd_64.h
$(BUILD)/gen/syscall_names.h: $(UNISTD)
	@mkdir -p $(dir $@)
	awk 'BEGIN { print "/* generated from $(UNISTD) by the Makefile: do not edit */" } \
	     $$1 == "#define" && $$2 ~ /^__NR_/ && $$3 ~ /^[0-9]+$$/ { sub(/^__NR_/, "", $$2); \
	     printf "\t[%d] = \"%s\",\n", $$3, $$2 }' $< > $@
$(BUILD)/obj/core/syscalls.o: $(BUILD)/gen/syscall_names.h

$(BUILD)/libvigil.a: $(CORE_OBJS)
	$(AR) rcs $@ $^

$(BUILD)/vigil: $(CMD_OBJS) $(BUILD)/libvigil.a
	$(CC) $(CFLAGS) -static -Wl,--wrap=btf__load_vmlinux_btf $^ $(LDLIBS) -o $@.debug
	@# ship without DWARF (kept in $@.debug); the symbol table stays for doctor's uprobe probe
	objcopy --strip-debug $@.debug $@

# The workloads the end-to-end tests and benchmarks drive.
WORKLOADS := $(patsubst tests/workloads/%.c,$(BUILD)/tests/workloads/%,$(wildcard tests/workloads/*.c))
$(BUILD)/tests/workloads/%: tests/workloads/%.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -pthread $< -o $@
# profile's workload: frame pointers in every function (the kernel's stack walker follows
# them). clang: gcc 12 leaves them out of leaf functions even with -mno-omit-leaf-frame-pointer.
$(BUILD)/tests/workloads/profwork: tests/workloads/profwork.c
	@mkdir -p $(dir $@)
	$(CLANG) -O2 -Wall -fno-omit-frame-pointer $< -o $@

$(BUILD)/bpf $(BUILD)/skel $(BUILD)/tests:
	mkdir -p $@

# Regenerate the checked-in vmlinux.h from the running kernel's BTF.
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > bpf/vmlinux.h

$(BUILD)/tests/%: tests/unit/%.c tests/unit/check.h $(HDRS) $(BUILD)/libvigil.a | $(BUILD)/tests
	$(CC) $(CFLAGS) -Itests/unit $< $(BUILD)/libvigil.a $(LDLIBS) -o $@

# the core's row -> NDJSON path alone (bench/stream.sh has the whole consumer)
$(BUILD)/bench/json_rows: bench/json_rows.c $(HDRS) $(BUILD)/libvigil.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(BUILD)/libvigil.a $(LDLIBS) -o $@

deps:
	scripts/deps.sh all

test-unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do $$t || fail=1; done; exit $$fail

test-e2e: $(BUILD)/vigil $(WORKLOADS)
	$(PYTEST) -v -rs tests/e2e

test: test-unit test-e2e

# libFuzzer + ASan/UBSan on the firewall rules parser: make fuzz-rules FUZZ_SECONDS=20
FUZZ_SECONDS ?= 20
$(BUILD)/fuzz/fuzz_rules: tests/fuzz/fuzz_rules.c src/fw/rules.c src/fw/rules.h include/vigil/*.h
	@mkdir -p $(dir $@) $(BUILD)/fuzz/corpus-rules
	$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Iinclude -Isrc \
		tests/fuzz/fuzz_rules.c src/fw/rules.c -o $@
fuzz-rules: $(BUILD)/fuzz/fuzz_rules
	$< -max_total_time=$(FUZZ_SECONDS) -max_len=2048 -timeout=10 -artifact_prefix=$(BUILD)/fuzz/ $(BUILD)/fuzz/corpus-rules tests/fuzz/corpus/rules

# the same on the guard policy parser, resolver and compiler: make fuzz-guard FUZZ_SECONDS=20
$(BUILD)/fuzz/fuzz_guard: tests/fuzz/fuzz_guard.c src/guard/policy.c src/guard/sha256.c src/guard/policy.h include/vigil/*.h
	@mkdir -p $(dir $@) $(BUILD)/fuzz/corpus-guard
	$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Iinclude -Isrc \
		tests/fuzz/fuzz_guard.c src/guard/policy.c src/guard/sha256.c -o $@
fuzz-guard: $(BUILD)/fuzz/fuzz_guard
	$< -max_total_time=$(FUZZ_SECONDS) -max_len=2048 -timeout=10 -artifact_prefix=$(BUILD)/fuzz/guard- $(BUILD)/fuzz/corpus-guard tests/fuzz/corpus/guard

# The README's "try it": ten seconds of live process activity.
run: $(BUILD)/vigil
	$(BUILD)/vigil proc --duration 10s

bench: $(BUILD)/vigil $(WORKLOADS) $(BUILD)/bench/json_rows
	bench/run.sh

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, the bash completion it generates
# from its own option tables, the docs, and whatever deploy/ holds (a systemd unit
# deploy/vigil.service also goes where systemd looks).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
DOCDIR ?= $(DATADIR)/doc/vigil
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
UNITDIR ?= $(PREFIX)/lib/systemd/system
DOCS := README.md $(wildcard docs/*.md)
DEPLOY := $(shell find deploy -type f 2>/dev/null | LC_ALL=C sort)

$(BUILD)/vigil.bash: $(BUILD)/vigil
	$< completion bash > $@

install: $(BUILD)/vigil $(BUILD)/vigil.bash
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(DOCDIR)
	install -m 0755 $(BUILD)/vigil $(DESTDIR)$(BINDIR)/vigil
	install -m 0644 $(BUILD)/vigil.bash $(DESTDIR)$(BASHCOMPDIR)/vigil
	install -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/
	for f in $(DEPLOY); do install -D -m 0644 $$f $(DESTDIR)$(DATADIR)/vigil/$${f#deploy/}; done
	$(if $(filter deploy/vigil.service,$(DEPLOY)),install -D -m 0644 deploy/vigil.service $(DESTDIR)$(UNITDIR)/vigil.service)

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/vigil $(DESTDIR)$(BASHCOMPDIR)/vigil $(DESTDIR)$(UNITDIR)/vigil.service
	rm -rf $(DESTDIR)$(DOCDIR) $(DESTDIR)$(DATADIR)/vigil

# make deb: build/vigil_VERSION_ARCH.deb of the same layout under /usr, with dpkg-deb.
# No Depends: the binary is static.
VERSION := $(shell sed -n 's/^\#define VIGIL_VERSION "\(.*\)"/\1/p' src/core/vigil.h)
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB := $(BUILD)/vigil_$(VERSION)_$(DEB_ARCH).deb

deb: $(DEB)

$(DEB): $(BUILD)/vigil $(BUILD)/vigil.bash $(DOCS) $(DEPLOY) Makefile
	rm -rf $(BUILD)/deb
	$(MAKE) --no-print-directory install DESTDIR=$(abspath $(BUILD)/deb) PREFIX=/usr
	mkdir -p $(BUILD)/deb/DEBIAN
	printf '%s\n' 'Package: vigil' 'Version: $(VERSION)' 'Architecture: $(DEB_ARCH)' \
		'Maintainer: vigil developers <vigil@localhost>' 'Section: admin' 'Priority: optional' \
		"Installed-Size: $$(du -sk --exclude=DEBIAN $(BUILD)/deb | cut -f1)" \
		'Description: eBPF observability and protection for Linux hosts' \
		' One statically linked binary: process, syscall and file tracing on' \
		' tracepoints, and an XDP firewall with atomic reload.' > $(BUILD)/deb/DEBIAN/control
	dpkg-deb --root-owner-group -Zxz --build $(BUILD)/deb $@

clean:
	rm -rf $(BUILD)
include mk/kernels.mk
