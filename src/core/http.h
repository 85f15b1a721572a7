/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The metrics endpoint: a small HTTP/1.1 server on the engine's loop.
 * Everything is non-blocking and bounded: request size, time from accept
 * to the last byte written, number of clients. libmicrohttpd does not link
 * into the one static binary on Debian 12 (docs/architecture.md).
 */
#ifndef VIGIL_HTTP_H
#define VIGIL_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct vigil_loop;

#define VIGIL_HTTP_MAX_REQ 8192
#define VIGIL_HTTP_MAX_CLIENTS 64
#define VIGIL_HTTP_TIMEOUT_MS 5000

struct vigil_http_client {
	int fd;
	uint64_t since_ns;
	char req[VIGIL_HTTP_MAX_REQ];
	size_t rlen;
	char *resp;
	size_t wlen, woff;
};

struct vigil_http_stats {
	uint64_t requests, rejected, timeouts, bad, bytes;
	uint32_t clients;
};

struct vigil_http {
	struct vigil_loop *loop;
	int fd, sweep_fd;
	/* the body of GET /metrics: malloc'd text, its length in *len; NULL on failure */
	char *(*render)(void *ctx, size_t *len);
	void *ctx;
	struct vigil_http_client cl[VIGIL_HTTP_MAX_CLIENTS];
	uint64_t timeout_ns;
	struct vigil_http_stats st;
};

/* "127.0.0.1:9090", "[::1]:9090", ":9090" (every address); 0 or -errno */
int vigil_http_listen(struct vigil_http *h, struct vigil_loop *l, const char *addr,
		      char *(*render)(void *ctx, size_t *len), void *ctx);
void vigil_http_close(struct vigil_http *h);

#endif
