/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * tcp's pure logic, apart so tests/unit/test_tcp.c checks it without a
 * kernel: state names, --port and --laddr/--raddr parsing, and the prefix
 * match the kernel side does (bpf/tcp.bpf.c cidr_match), for the same answers.
 */
#ifndef VIGIL_CMD_TCP_H
#define VIGIL_CMD_TCP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include "vigil/events.h"

/* include/net/tcp_states.h */
static inline const char *tcp_state_name(unsigned int s)
{
	static const char *const names[] = {
		"", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
		"TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
		"NEW_SYN_RECV",
	};

	return s < sizeof(names) / sizeof(names[0]) && s ? names[s] : "UNKNOWN";
}

/* "10.0.0.0/8", "fd00::/64", "127.0.0.1" (a host: /32 or /128); 0 or -1 */
static inline int tcp_parse_cidr(const char *s, struct vigil_tcp_cidr *c)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash, *end;
	long plen;
	int max;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	memset(c, 0, sizeof(*c));
	slash = strchr(buf, '/');
	if (slash)
		*slash = 0;
	if (inet_pton(AF_INET, buf, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	plen = max;
	if (slash) {
		if (!slash[1])
			return -1;
		plen = strtol(slash + 1, &end, 10);
		if (*end || plen < 0 || plen > max)
			return -1;
	}
	c->plen = (uint8_t)plen;
	return 0;
}

/* the same answer as the kernel side's cidr_match */
static inline bool tcp_cidr_match(const uint8_t *a, uint16_t family, const struct vigil_tcp_cidr *c)
{
	if (c->family != family)
		return false;
	for (int b = 0; b < 16; b++) {
		int bits = c->plen - b * 8;
		uint8_t mask;

		if (bits <= 0)
			break;
		mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
		if ((a[b] ^ c->addr[b]) & mask)
			return false;
	}
	return true;
}

/* "80,443": ports 1..65535, at most VIGIL_TCP_MAX_PORTS; returns how many or -1 */
static inline int tcp_parse_ports(const char *s, uint16_t *ports)
{
	int n = 0;

	while (*s) {
		char *end;
		long v = strtol(s, &end, 10);

		if (end == s || v < 1 || v > 65535 || (*end && *end != ',') ||
		    n == VIGIL_TCP_MAX_PORTS)
			return -1;
		ports[n++] = (uint16_t)v;
		s = *end ? end + 1 : end;
		if (*end && !*s)
			return -1;
	}
	return n ? n : -1;
}

#endif /* VIGIL_CMD_TCP_H */
