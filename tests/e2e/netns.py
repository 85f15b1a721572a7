"""Two network namespaces joined by a veth pair, always torn down.

The firewall is attached to `dev` (in namespace `a`); traffic comes from
namespace `b`. vigil runs in `a` through `nsenter --net`, not `ip netns exec`,
because the latter remounts /sys and would hide the host's bpffs pins.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TRAFFIC = os.path.join(HERE, "fwtraffic.py")


def sh(*args, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


class Pair:
    def __init__(self, tag):
        tag = f"{tag}{os.getpid() % 10000}"
        self.a, self.b = f"vfa{tag}", f"vfb{tag}"
        self.dev, self.peer = f"vf{tag}a"[:15], f"vf{tag}b"[:15]
        n = os.getpid() % 200 + 20
        self.ip_a, self.ip_b = f"10.{n}.0.1", f"10.{n}.0.2"
        self.net4 = f"10.{n}.0.0/24"
        self.ip6_a, self.ip6_b = f"fd00:{n}::1", f"fd00:{n}::2"
        self.net6 = f"fd00:{n}::/64"

    def up(self):
        sh("ip", "netns", "add", self.a)
        sh("ip", "netns", "add", self.b)
        sh("ip", "link", "add", self.dev, "netns", self.a, "type", "veth",
           "peer", "name", self.peer, "netns", self.b)
        for ns, dev, ip4, ip6 in ((self.a, self.dev, self.ip_a, self.ip6_a),
                                  (self.b, self.peer, self.ip_b, self.ip6_b)):
            sh("ip", "-n", ns, "addr", "add", f"{ip4}/24", "dev", dev)
            sh("ip", "-n", ns, "addr", "add", f"{ip6}/64", "dev", dev, "nodad")
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        # static neighbours: no ARP/NDP, so a rule dropping ICMPv6 cannot cut
        # the link and counters see only the test's packets
        mac_a = self.mac(self.a, self.dev)
        mac_b = self.mac(self.b, self.peer)
        for ns, dev, ip4, ip6, mac in ((self.a, self.dev, self.ip_b, self.ip6_b, mac_b),
                                       (self.b, self.peer, self.ip_a, self.ip6_a, mac_a)):
            sh("ip", "-n", ns, "neigh", "replace", ip4, "lladdr", mac, "dev", dev, "nud", "permanent")
            sh("ip", "-n", ns, "neigh", "replace", ip6, "lladdr", mac, "dev", dev, "nud", "permanent")
        return self

    @staticmethod
    def mac(ns, dev):
        out = sh("ip", "-n", ns, "-o", "link", "show", dev).stdout
        return out.split("link/ether")[1].split()[0]

    def down(self):
        for ns in (self.a, self.b):
            sh("ip", "netns", "del", ns, check=False)

    # ---- running things ----
    def vigil_argv(self, vigil, *args):
        return ["nsenter", f"--net=/run/netns/{self.a}", vigil, *args]

    def in_ns(self, ns, *args):
        return ["ip", "netns", "exec", ns, *args]

    def traffic(self, ns, *args):
        return self.in_ns(ns, sys.executable, TRAFFIC, *[str(a) for a in args])

    def xdp_attached(self):
        out = sh("ip", "-n", self.a, "link", "show", self.dev).stdout
        return "xdp" in out

    def udp_recv(self, dst, port):
        """A receiver in a, bound before this returns; finish it with udp_recv_count()."""
        recv = subprocess.Popen(self.traffic(self.a, "udp-recv", dst, port),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert recv.stdout.readline().strip() == "ready"
        return recv

    @staticmethod
    def udp_recv_count(recv, sent):
        """Tell the receiver sent datagrams are out; it returns once it has them all, or has
        heard nothing for fwtraffic.SETTLE seconds (the firewall dropped the rest)."""
        recv.stdin.write(f"{sent}\n")
        recv.stdin.close()
        got = int(recv.stdout.readline())
        assert recv.wait(timeout=60) == 0
        return got

    def udp_send(self, dst, port, count, pps=500):
        """Send count datagrams from b to a; returns (sent, seconds from first to last)."""
        out = subprocess.run(self.traffic(self.b, "udp-send", dst, port, count, pps),
                             capture_output=True, text=True, check=True).stdout.split()
        return int(out[0]), float(out[1])

    def udp(self, dst, port, count=20, pps=500):
        """Send count datagrams from b to a; returns how many arrived."""
        recv = self.udp_recv(dst, port)
        sent, _ = self.udp_send(dst, port, count, pps)
        assert sent == count
        return self.udp_recv_count(recv, sent)

    def tcp(self, dst, port):
        """True when a TCP connection from b to a is established (the listener is up
        first; a dropped SYN is retried by the kernel for TIMEOUT seconds)."""
        lis = subprocess.Popen(self.traffic(self.a, "tcp-listen", dst, port, 300),
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert lis.stdout.readline().strip() == "ready"
            ok = subprocess.run(self.traffic(self.b, "tcp-try", dst, port, 5),
                                capture_output=True, text=True, check=True).stdout.strip() == "1"
        finally:
            lis.stdin.close()
            lis.wait(timeout=60)
        return ok

    def ping(self, dst, count=5):
        """Echo replies received by b (ping ends when all are in, or 3 s after the last
        request)."""
        out = subprocess.run(self.in_ns(self.b, "ping", "-c", str(count), "-i", "0.05", "-W", "3", dst),
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            if "received" in line:
                return int(line.split(",")[1].split()[0])
        return 0
