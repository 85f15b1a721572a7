// SPDX-License-Identifier: GPL-2.0
/*
 * Packet generator and per-packet cost probe for bench/firewall.sh.
 *
 *   firewall_gen flood IFNAME DST_MAC SRC_MAC SRC_IP DST_IP SECONDS THREADS
 *       Transmits 64-byte UDP frames (60 bytes + FCS; IPv6: 84) out of IFNAME for SECONDS
 *       from THREADS threads (thread i pinned to CPU i % ncpus), using
 *       BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES on a two-instruction
 *       XDP program that returns XDP_TX: the kernel turns each frame into an
 *       xdp_frame and redirects it out of IFNAME (for a veth, straight into the
 *       peer's XDP/NAPI path; no socket, no skb on the sending side).
 *       Prints "sent N pps P".  Run it inside IFNAME's network namespace.
 *
 *   firewall_gen cost PROG_ID SRC_IP DST_IP REPEAT
 *       Runs the loaded XDP program PROG_ID on the same frame REPEAT times with
 *       BPF_PROG_TEST_RUN (no live frames: nothing is transmitted) and prints
 *       "ns N retval R wall_ns W", N the kernel's average per run (whole ns),
 *       W the wall clock of the whole call divided by REPEAT (with decimals;
 *       includes the harness).  PROG_ID 0 runs a trivial XDP_DROP program:
 *       the harness floor.
 *
 * Exit: 0 ok, 1 failure, 2 usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* IPv4: 60 bytes (64 with the FCS); IPv6: 80, the same 18 bytes of payload */
static unsigned char pkt[80];
static unsigned pkt_len;

static int parse_mac(const char *s, unsigned char *m)
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4],
		      &m[5]) == 6 ? 0 : -1;
}

static uint16_t csum(const void *p, int len)
{
	const uint16_t *w = p;
	uint32_t s = 0;
	for (; len > 1; len -= 2)
		s += *w++;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s;
}

/* a UDP frame from sip:40000 to dip:9; IPv6 when the addresses are */
static int build(const char *dmac, const char *smac, const char *sip, const char *dip)
{
	unsigned char *ip = pkt + 14, *udp;
	struct in6_addr s6, d6;
	struct in_addr s, d;

	memset(pkt, 0, sizeof(pkt));
	if (parse_mac(dmac, pkt) || parse_mac(smac, pkt + 6))
		return -1;
	if (inet_pton(AF_INET6, sip, &s6) == 1 && inet_pton(AF_INET6, dip, &d6) == 1) {
		pkt[12] = 0x86, pkt[13] = 0xdd;
		ip[0] = 0x60, ip[5] = 26, ip[6] = 17, ip[7] = 64;	/* payload 26, udp, hop limit */
		memcpy(ip + 8, &s6, 16), memcpy(ip + 24, &d6, 16);
		udp = ip + 40;
		pkt_len = 80;
	} else if (inet_pton(AF_INET, sip, &s) == 1 && inet_pton(AF_INET, dip, &d) == 1) {
		pkt[12] = 0x08, pkt[13] = 0x00;
		ip[0] = 0x45, ip[2] = 0, ip[3] = 46, ip[8] = 64, ip[9] = 17; /* tot_len 46, ttl, udp */
		memcpy(ip + 12, &s, 4), memcpy(ip + 16, &d, 4);
		*(uint16_t *)(ip + 10) = csum(ip, 20);
		udp = ip + 20;
		pkt_len = 60;
	} else {
		return -1;
	}
	/* the UDP checksum stays 0: nothing checks it before the filter */
	udp[0] = 40000 >> 8, udp[1] = 40000 & 0xff, udp[2] = 0, udp[3] = 9, udp[5] = 26; /* len 26 */
	memset(udp + 8, 0x41, 18);
	return 0;
}

static int load_ret(int verdict)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = verdict },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	return bpf_prog_load(BPF_PROG_TYPE_XDP, "fwbench_gen", "GPL", insns, 2, NULL);
}

static int prog_fd, ifindex, ncpus;
static double deadline;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void *flood_thread(void *arg)
{
	long id = (long)arg;
	unsigned long long sent = 0;
	struct xdp_md ctx = { .data_end = pkt_len, .ingress_ifindex = ifindex };
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(id % ncpus, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	while (now() < deadline) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = pkt_len,
			    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1 << 16,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
		if (bpf_prog_test_run_opts(prog_fd, &o)) {
			fprintf(stderr, "firewall_gen: live-frames test run: %s\n", strerror(errno));
			return (void *)1;
		}
		sent += 1 << 16;
	}
	return (void *)(uintptr_t)sent;
}

int main(int argc, char **argv)
{
	if (argc == 9 && !strcmp(argv[1], "flood")) {
		int secs = atoi(argv[7]), nthr = atoi(argv[8]);
		unsigned long long total = 0;
		pthread_t th[64];
		double t0;

		ifindex = if_nametoindex(argv[2]);
		ncpus = sysconf(_SC_NPROCESSORS_ONLN);
		if (!ifindex || build(argv[3], argv[4], argv[5], argv[6]) || secs <= 0 || nthr < 1 ||
		    nthr > 64) {
			fprintf(stderr, "firewall_gen: bad arguments\n");
			return 2;
		}
		prog_fd = load_ret(XDP_TX);
		if (prog_fd < 0) {
			fprintf(stderr, "firewall_gen: load XDP_TX program: %s\n", strerror(errno));
			return 1;
		}
		t0 = now();
		deadline = t0 + secs;
		for (long i = 0; i < nthr; i++)
			pthread_create(&th[i], NULL, flood_thread, (void *)i);
		for (int i = 0; i < nthr; i++) {
			void *r;
			pthread_join(th[i], &r);
			if ((uintptr_t)r == 1)
				return 1;
			total += (uintptr_t)r;
		}
		printf("sent %llu pps %.0f\n", total, total / (now() - t0));
		return 0;
	}
	if (argc == 6 && !strcmp(argv[1], "cost")) {
		unsigned id = strtoul(argv[2], NULL, 0);
		int fd = id ? bpf_prog_get_fd_by_id(id) : load_ret(XDP_DROP);

		if (build("02:00:00:00:00:02", "02:00:00:00:00:01", argv[3], argv[4])) {
			fprintf(stderr, "firewall_gen: bad arguments\n");
			return 2;
		}
		if (fd < 0) {
			fprintf(stderr, "firewall_gen: program %u: %s\n", id, strerror(errno));
			return 1;
		}
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = pkt_len,
			    .repeat = atoi(argv[5]));
		double t0 = now(), t1;

		if (bpf_prog_test_run_opts(fd, &o)) {
			fprintf(stderr, "firewall_gen: test run: %s\n", strerror(errno));
			return 1;
		}
		t1 = now();
		/* the kernel's figure is whole ns; the wall clock of the whole call
		 * (harness included, so compare it with itself) has decimals */
		printf("ns %u retval %u wall_ns %.2f\n", o.duration, o.retval,
		       (t1 - t0) * 1e9 / (o.repeat ? o.repeat : 1));
		return 0;
	}
	fprintf(stderr, "usage: firewall_gen flood IFNAME DST_MAC SRC_MAC SRC_IP DST_IP SECONDS THREADS\n"
			"       firewall_gen cost PROG_ID SRC_IP DST_IP REPEAT\n");
	return 2;
}
