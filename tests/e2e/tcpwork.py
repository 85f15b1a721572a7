"""TCP activity of known exact size for the tcp tests, in two processes.

  tcpwork.py server HOST PORT N RECV SEND   listen (PORT 0: any), print "port P",
                                            then N times: accept, read exactly RECV
                                            bytes, send SEND, wait for the peer's
                                            close, close
  tcpwork.py client HOST PORT N SEND RECV   N times: connect, send SEND, read exactly
                                            RECV, close (the client closes first)
  tcpwork.py refused HOST PORT              one connect to a closed port: prints the errno name

Each connection is one process's, so the tests know which pid owns which end.
"""
import errno
import socket
import sys


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def read_exactly(s, n):
    got = 0
    while got < n:
        b = s.recv(min(65536, n - got))
        if not b:
            raise SystemExit(f"peer closed after {got} of {n} bytes")
        got += len(b)


def server(host, port, n, recv, send):
    s = socket.socket(family(host))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(64)
    print("port", s.getsockname()[1], flush=True)
    for _ in range(n):
        a, _ = s.accept()
        read_exactly(a, recv)
        a.sendall(b"s" * send)
        while a.recv(65536):
            pass
        a.close()
    s.close()


def client(host, port, n, send, recv):
    for _ in range(n):
        c = socket.socket(family(host))
        c.connect((host, port))
        c.sendall(b"c" * send)
        read_exactly(c, recv)
        c.close()


def refused(host, port):
    c = socket.socket(family(host))
    try:
        c.connect((host, port))
        print("connected")
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)))


if __name__ == "__main__":
    mode, host = sys.argv[1], sys.argv[2]
    args = [int(a) for a in sys.argv[3:]]
    {"server": server, "client": client, "refused": refused}[mode](host, *args)
