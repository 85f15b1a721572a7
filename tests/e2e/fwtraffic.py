"""Traffic for the firewall tests, run inside a namespace with `ip netns exec`.

  udp-recv ADDR PORT            print "ready" once bound, count datagrams; when a line N comes
                                on stdin (the sender is done, having sent N) or stdin ends:
                                stop at N datagrams, or after SETTLE s without one; print the count
  udp-send ADDR PORT COUNT PPS [STOPFILE]  send COUNT datagrams (or until STOPFILE), paced at
                                PPS; print the count and the seconds from the first to the last
  tcp-listen ADDR PORT SECONDS  print "ready", accept until stdin ends (at most SECONDS)
  tcp-try ADDR PORT TIMEOUT     print 1 if a connection is established, else 0

Nothing here waits for a fixed time to decide: a receiver on a busy machine may start late
and be scheduled rarely, so it is told when the sending is over instead of guessing.
"""
import os
import select
import socket
import sys
import time

# After the sender is done, a receiver that has not got everything waits this long
# without a datagram before it reports: only packets the firewall dropped are missing
# then, and one still in flight this long after its send would be counted as dropped.
SETTLE = 1.0


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def udp_recv(addr, port):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    # root: beyond net.core.rmem_max, so a receiver starved of CPU for seconds loses nothing
    s.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 32 << 20)
    s.bind((addr, int(port)))
    s.setblocking(False)
    print("ready", flush=True)
    stdin = sys.stdin.fileno()
    n, done, expect, line = 0, False, None, b""
    while not (done and expect is not None and n >= expect):
        ready, _, _ = select.select([s] if done else [s, stdin], [], [], SETTLE if done else None)
        if not ready:
            break                               # settled: the rest was dropped
        if s in ready:
            while True:
                try:
                    s.recv(2048)
                    n += 1
                except BlockingIOError:
                    break
        if stdin in ready:
            chunk = os.read(stdin, 64)
            line += chunk
            if b"\n" in line or not chunk:
                done = True
                words = line.split()
                expect = int(words[0]) if words else None
    print(n, flush=True)


def udp_send(addr, port, count, pps, stop=None):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    count, pps = int(count), float(pps)
    gap = 1.0 / pps
    t0 = time.monotonic()
    last = t0
    n = 0
    while n < count:
        if stop and os.path.exists(stop):
            break
        s.sendto(b"vigil-fw-test", (addr, int(port)))
        last = time.monotonic()
        n += 1
        delay = t0 + n * gap - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print(n, f"{last - t0:.6f}", flush=True)


def tcp_listen(addr, port, seconds):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(16)
    print("ready", flush=True)
    end = time.monotonic() + float(seconds)
    while time.monotonic() < end:
        ready, _, _ = select.select([s, sys.stdin.fileno()], [], [], max(0, end - time.monotonic()))
        if sys.stdin.fileno() in ready and not os.read(sys.stdin.fileno(), 64):
            break
        if s in ready:
            c, _ = s.accept()
            c.close()


def tcp_try(addr, port, timeout):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.settimeout(float(timeout))
    try:
        s.connect((addr, int(port)))
        print(1)
    except OSError:
        print(0)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"udp-recv": udp_recv, "udp-send": udp_send, "tcp-listen": tcp_listen,
     "tcp-try": tcp_try}[cmd](*args)
