// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Unit tests of tcp's pure logic: states, --port and --laddr/--raddr parsing, prefix matches. */
#include <string.h>
#include "check.h"
#include "cmd/tcp.h"

static void test_states(void)
{
	CHECK_STR(tcp_state_name(1), "ESTABLISHED");
	CHECK_STR(tcp_state_name(5), "FIN_WAIT2");
	CHECK_STR(tcp_state_name(9), "LAST_ACK");
	CHECK_STR(tcp_state_name(12), "NEW_SYN_RECV");
	CHECK_STR(tcp_state_name(0), "UNKNOWN");
	CHECK_STR(tcp_state_name(13), "UNKNOWN");
}

static void test_ports(void)
{
	uint16_t p[VIGIL_TCP_MAX_PORTS];

	CHECK(tcp_parse_ports("80", p) == 1 && p[0] == 80);
	CHECK(tcp_parse_ports("80,443,65535", p) == 3 && p[1] == 443 && p[2] == 65535);
	CHECK(tcp_parse_ports("1,2,3,4,5,6,7,8", p) == 8);
	CHECK(tcp_parse_ports("1,2,3,4,5,6,7,8,9", p) == -1);
	CHECK(tcp_parse_ports("0", p) == -1);
	CHECK(tcp_parse_ports("65536", p) == -1);
	CHECK(tcp_parse_ports("", p) == -1);
	CHECK(tcp_parse_ports("80,", p) == -1);
	CHECK(tcp_parse_ports(",80", p) == -1);
	CHECK(tcp_parse_ports("80x", p) == -1);
	CHECK(tcp_parse_ports("-1", p) == -1);
}

static void test_cidr(void)
{
	struct vigil_tcp_cidr c;
	uint8_t a[16] = { 0 };

	CHECK(tcp_parse_cidr("10.1.2.3", &c) == 0 && c.family == AF_INET && c.plen == 32);
	CHECK(tcp_parse_cidr("10.0.0.0/8", &c) == 0 && c.plen == 8 && c.addr[0] == 10);
	inet_pton(AF_INET, "10.200.3.4", a);
	CHECK(tcp_cidr_match(a, AF_INET, &c));
	inet_pton(AF_INET, "11.0.0.1", a);
	CHECK(!tcp_cidr_match(a, AF_INET, &c));
	CHECK(!tcp_cidr_match(a, AF_INET6, &c));
	/* a prefix that ends inside a byte */
	CHECK(tcp_parse_cidr("192.168.0.0/23", &c) == 0);
	inet_pton(AF_INET, "192.168.1.255", a);
	CHECK(tcp_cidr_match(a, AF_INET, &c));
	inet_pton(AF_INET, "192.168.2.0", a);
	CHECK(!tcp_cidr_match(a, AF_INET, &c));
	CHECK(tcp_parse_cidr("0.0.0.0/0", &c) == 0);
	CHECK(tcp_cidr_match(a, AF_INET, &c));
	CHECK(tcp_parse_cidr("fd00:12::/64", &c) == 0 && c.family == AF_INET6 && c.plen == 64);
	memset(a, 0, sizeof(a));
	inet_pton(AF_INET6, "fd00:12::99", a);
	CHECK(tcp_cidr_match(a, AF_INET6, &c));
	inet_pton(AF_INET6, "fd00:13::99", a);
	CHECK(!tcp_cidr_match(a, AF_INET6, &c));
	CHECK(tcp_parse_cidr("::1", &c) == 0 && c.plen == 128);
	CHECK(tcp_parse_cidr("10.0.0.0/33", &c) == -1);
	CHECK(tcp_parse_cidr("fd00::/129", &c) == -1);
	CHECK(tcp_parse_cidr("10.0.0.0/", &c) == -1);
	CHECK(tcp_parse_cidr("10.0.0.0/8x", &c) == -1);
	CHECK(tcp_parse_cidr("host.example", &c) == -1);
	CHECK(tcp_parse_cidr("10.0.0.300", &c) == -1);
}

int main(void)
{
	test_states();
	test_ports();
	test_cidr();
	return check_done("test_tcp");
}
