"""Traffic for the firewall tests, run inside a namespace with `ip netns exec`.

  udp-recv ADDR PORT SECONDS [STOPFILE]  print "ready", then the count received
  udp-send ADDR PORT COUNT PPS [STOPFILE] send COUNT datagrams (or until STOPFILE), print the count
  tcp-listen ADDR PORT SECONDS            print "ready", accept for SECONDS
  tcp-try ADDR PORT TIMEOUT               print 1 if a connection is established, else 0
"""
import os
import socket
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def udp_recv(addr, port, seconds, stop=None):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((addr, int(port)))
    s.settimeout(0.2)
    print("ready", flush=True)
    n = 0
    end = time.monotonic() + float(seconds)
    while time.monotonic() < end:
        if stop and os.path.exists(stop + ".recv"):
            break
        try:
            s.recv(2048)
            n += 1
        except socket.timeout:
            pass
    print(n, flush=True)


def udp_send(addr, port, count, pps, stop=None):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    count, pps = int(count), float(pps)
    gap = 1.0 / pps
    t0 = time.monotonic()
    n = 0
    while n < count:
        if stop and os.path.exists(stop):
            break
        s.sendto(b"vigil-fw-test", (addr, int(port)))
        n += 1
        delay = t0 + n * gap - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print(n, flush=True)


def tcp_listen(addr, port, seconds):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(16)
    s.settimeout(0.2)
    print("ready", flush=True)
    end = time.monotonic() + float(seconds)
    while time.monotonic() < end:
        try:
            c, _ = s.accept()
            c.close()
        except socket.timeout:
            pass


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
