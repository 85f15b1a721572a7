// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "core/http.h"
#include "core/loop.h"
#include "core/out.h"

static void client_close(struct vigil_http *h, struct vigil_http_client *c)
{
	vigil_loop_del(h->loop, c->fd);
	close(c->fd);
	free(c->resp);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	h->st.clients--;
}

static int client_write(struct vigil_http *h, struct vigil_http_client *c)
{
	while (c->woff < c->wlen) {
		ssize_t n = send(c->fd, c->resp + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return vigil_loop_mod(h->loop, c->fd, EPOLLOUT);
		if (n <= 0) {
			client_close(h, c);
			return 0;
		}
		c->woff += n;
		h->st.bytes += n;
	}
	client_close(h, c);
	return 0;
}

static void respond(struct vigil_http_client *c, const char *status, const char *type,
		    char *body, size_t blen)
{
	char head[256];
	int n = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n", status, type, blen);

	c->resp = malloc(n + blen);
	if (!c->resp) {
		free(body);
		return;
	}
	memcpy(c->resp, head, n);
	if (blen)
		memcpy(c->resp + n, body, blen);
	free(body);
	c->wlen = n + blen;
	c->woff = 0;
}

static int on_client(void *ctx, int fd, uint32_t events)
{
	struct vigil_http *h = ctx;
	struct vigil_http_client *c = NULL;

	for (int i = 0; i < VIGIL_HTTP_MAX_CLIENTS; i++)
		if (h->cl[i].fd == fd)
			c = &h->cl[i];
	if (!c)
		return 0;
	if (c->resp)
		return client_write(h, c);
	for (;;) {
		ssize_t n = recv(fd, c->req + c->rlen, sizeof(c->req) - 1 - c->rlen, 0);
		char *end;

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0) {
			client_close(h, c);
			return 0;
		}
		c->rlen += n;
		c->req[c->rlen] = 0;
		end = strstr(c->req, "\r\n\r\n");
		if (!end && c->rlen + 1 >= sizeof(c->req)) {
			h->st.bad++;
			respond(c, "431 Request Header Fields Too Large", "text/plain", NULL, 0);
			return client_write(h, c);
		}
		if (!end)
			continue;
		h->st.requests++;
		if (!strncmp(c->req, "GET /metrics ", 13) || !strncmp(c->req, "GET /metrics?", 13)) {
			size_t len = 0;
			char *body = h->render(h->ctx, &len);

			if (body)
				respond(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body, len);
			else
				respond(c, "500 Internal Server Error", "text/plain", NULL, 0);
		} else if (!strncmp(c->req, "GET /healthz ", 13)) {
			respond(c, "200 OK", "text/plain", strdup("ok\n"), 3);
		} else if (strncmp(c->req, "GET ", 4)) {
			h->st.bad++;
			respond(c, "405 Method Not Allowed", "text/plain", NULL, 0);
		} else {
			respond(c, "404 Not Found", "text/plain", NULL, 0);
		}
		return client_write(h, c);
	}
}

static int on_accept(void *ctx, int fd, uint32_t events)
{
	struct vigil_http *h = ctx;

	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct vigil_http_client *c = NULL;

		if (cfd < 0)
			return 0;
		for (int i = 0; i < VIGIL_HTTP_MAX_CLIENTS && !c; i++)
			if (h->cl[i].fd < 0)
				c = &h->cl[i];
		if (!c || vigil_loop_add(h->loop, cfd, EPOLLIN, on_client, h)) {
			/* full: refused at once, the others are not slowed down */
			h->st.rejected++;
			close(cfd);
			continue;
		}
		c->fd = cfd;
		c->since_ns = vigil_mono_ns();
		c->rlen = 0;
		h->st.clients++;
	}
}

/* a client that has not been served within the timeout is closed */
static int on_sweep(void *ctx, int fd, uint32_t events)
{
	struct vigil_http *h = ctx;
	uint64_t now = vigil_mono_ns();

	for (int i = 0; i < VIGIL_HTTP_MAX_CLIENTS; i++) {
		if (h->cl[i].fd >= 0 && now - h->cl[i].since_ns > h->timeout_ns) {
			h->st.timeouts++;
			client_close(h, &h->cl[i]);
		}
	}
	return 0;
}

static int parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len)
{
	const char *colon = strrchr(addr, ':');
	char host[64];
	long port;
	char *end;

	if (!colon)
		return -EINVAL;
	port = strtol(colon + 1, &end, 10);
	if (*end || port <= 0 || port > 65535 || (size_t)(colon - addr) >= sizeof(host))
		return -EINVAL;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		size_t l = strlen(host);

		if (l < 2 || host[l - 1] != ']')
			return -EINVAL;
		host[l - 1] = 0;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return -EINVAL;
		*len = sizeof(*s6);
		return 0;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	if (!host[0])
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		return -EINVAL;
	*len = sizeof(*s4);
	return 0;
}

int vigil_http_listen(struct vigil_http *h, struct vigil_loop *l, const char *addr,
		      char *(*render)(void *ctx, size_t *len), void *ctx)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, err;

	memset(h, 0, sizeof(*h));
	h->fd = h->sweep_fd = -1;
	for (int i = 0; i < VIGIL_HTTP_MAX_CLIENTS; i++)
		h->cl[i].fd = -1;
	h->loop = l;
	h->render = render;
	h->ctx = ctx;
	if (!h->timeout_ns)
		h->timeout_ns = VIGIL_HTTP_TIMEOUT_MS * 1000000ull;
	if ((err = parse_addr(addr, &ss, &len)))
		return err;
	h->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->fd < 0)
		return -errno;
	setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(h->fd, (struct sockaddr *)&ss, len) || listen(h->fd, 128)) {
		err = -errno;
		close(h->fd);
		h->fd = -1;
		return err;
	}
	if ((err = vigil_loop_add(l, h->fd, EPOLLIN, on_accept, h)))
		return err;
	h->sweep_fd = vigil_loop_timer(l, 250000000ull, true, on_sweep, h);
	return h->sweep_fd < 0 ? h->sweep_fd : 0;
}

void vigil_http_close(struct vigil_http *h)
{
	if (!h->loop)
		return;
	for (int i = 0; i < VIGIL_HTTP_MAX_CLIENTS; i++)
		if (h->cl[i].fd >= 0)
			client_close(h, &h->cl[i]);
	if (h->fd >= 0) {
		vigil_loop_del(h->loop, h->fd);
		close(h->fd);
	}
	vigil_loop_del(h->loop, h->sweep_fd);
	h->fd = h->sweep_fd = -1;
}
