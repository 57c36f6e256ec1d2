#!/usr/bin/env python3
"""The servers of the network tests' private world (tests/integration/networld.sh): small HTTP
servers that answer a body naming themselves, and a tiny authoritative DNS server (UDP and TCP)
for a fixed zone that logs every question it is asked. One process, one thread per listener;
it binds only what the command line gives it and is started inside a world network namespace
(ip netns exec), so nothing here can reach or be reached from the real network.

  networld_servers.py --ready FILE [--http NAME=ADDR:PORT]... [--dns ADDR:PORT --dns-log FILE]

ADDR is an IPv4 address or a bracketed IPv6 address. FILE (--ready) is written once every
socket is bound and listening. SIGTERM ends the process. Test code: stdlib only; the DNS side
parses one question and answers from the table below, nothing more.
"""
import argparse
import http.server
import ipaddress
import os
import signal
import socket
import socketserver
import struct
import sys
import threading

TTL = 300
A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, SRV, OPT, ANY = 1, 2, 5, 6, 12, 15, 16, 28, 33, 41, 255
TYPE_NAMES = {A: "A", NS: "NS", CNAME: "CNAME", SOA: "SOA", PTR: "PTR", MX: "MX", TXT: "TXT",
              AAAA: "AAAA", SRV: "SRV", OPT: "OPT", 64: "SVCB", 65: "HTTPS", ANY: "ANY"}
RCODE_NOERROR, RCODE_FORMERR, RCODE_NXDOMAIN, RCODE_NOTIMP = 0, 1, 3, 4

# The world's zone: name -> {type: [values]}; CNAME values are names.
ZONE = {
    "allowed.example": {A: ["203.0.113.10"]},
    "other.example": {A: ["203.0.113.20"]},
    "v6.example": {AAAA: ["2001:db8::10"]},
    "v6other.example": {AAAA: ["2001:db8::20"]},
    "meta.example": {A: ["169.254.169.254"]},
    "lan.example": {A: ["10.99.0.1"]},
    "alias.example": {CNAME: ["edge.cdn.test"]},
    "edge.cdn.test": {A: ["203.0.113.10"]},
}

log_lock = threading.Lock()


def parse_endpoint(text):
    """'1.2.3.4:80' or '[2001:db8::1]:80' -> (family, host, port)."""
    host, _, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    return family, host, int(port)


# ---------------------------------------------------------------- HTTP


def start_http(name, endpoint):
    family, host, port = parse_endpoint(endpoint)
    body = ("server=%s\n" % name).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "networld"
        sys_version = ""

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        address_family = family
        allow_reuse_address = True
        daemon_threads = True

    server = Server((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()


# ---------------------------------------------------------------- DNS


def read_name(msg, off):
    """Reads an uncompressed question name; returns (text, offset after it)."""
    labels = []
    while True:
        if off >= len(msg):
            raise ValueError("name runs past the message")
        n = msg[off]
        off += 1
        if n == 0:
            break
        if n & 0xC0:
            raise ValueError("compressed question name")
        label = msg[off:off + n]
        if len(label) != n:
            raise ValueError("label runs past the message")
        off += n
        text = ""
        for b in label:
            c = chr(b)
            if c in ".\\":
                text += "\\" + c
            elif 0x21 <= b <= 0x7E:
                text += c
            else:
                text += "\\%03d" % b
        labels.append(text)
    return ".".join(labels) if labels else ".", off


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def rr(name_bytes, rtype, rdata):
    return name_bytes + struct.pack("!HHIH", rtype, 1, TTL, len(rdata)) + rdata


def rdata_for(rtype, value):
    if rtype == A:
        return socket.inet_pton(socket.AF_INET, value)
    if rtype == AAAA:
        return socket.inet_pton(socket.AF_INET6, value)
    return encode_name(value)  # CNAME


def soa_for(name):
    apex = name.rsplit(".", 1)[-1] if "." in name else name
    rdata = encode_name("ns." + apex) + encode_name("hostmaster." + apex) + struct.pack("!IIIII", 1, 3600, 600, 86400, 60)
    return rr(encode_name(apex), SOA, rdata)


def answer(query, proto, client, log_path):
    """The reply to one query message (or None to stay silent)."""
    if len(query) < 12:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", query[:6])
    if flags & 0x8000:
        return None  # a response, not a query
    opcode = (flags >> 11) & 0xF
    rd = flags & 0x0100

    def reply(rcode, question=b"", answers=(), authority=()):
        hflags = 0x8000 | (opcode << 11) | 0x0400 | rd | rcode  # QR, AA, RD copied
        head = struct.pack("!HHHHHH", qid, hflags, 1 if question else 0, len(answers), len(authority), 0)
        return head + question + b"".join(answers) + b"".join(authority)

    if qdcount != 1:
        return reply(RCODE_FORMERR)
    try:
        name, off = read_name(query, 12)
        qtype, qclass = struct.unpack("!HH", query[off:off + 4])
    except (ValueError, struct.error):
        return reply(RCODE_FORMERR)
    question = query[12:off + 4]
    with log_lock, open(log_path, "a") as log:
        log.write("%s\t%s\t%s\t%s\n" % (name, TYPE_NAMES.get(qtype, "TYPE%d" % qtype), proto, client))
    if opcode != 0:
        return reply(RCODE_NOTIMP, question)
    key = name.lower().rstrip(".")
    if key not in ZONE:
        return reply(RCODE_NXDOMAIN, question, authority=[soa_for(key)])
    answers = []
    owner = b"\xc0\x0c"  # the question's name
    for _ in range(8):  # follow CNAMEs, a bounded number of times
        records = ZONE.get(key, {})
        if CNAME in records and qtype != CNAME:
            target = records[CNAME][0]
            answers.append(rr(owner, CNAME, rdata_for(CNAME, target)))
            key, owner = target, encode_name(target)
            continue
        for rtype, values in records.items():
            if qtype in (rtype, ANY):
                answers += [rr(owner, rtype, rdata_for(rtype, v)) for v in values]
        break
    return reply(RCODE_NOERROR, question, answers, [] if answers else [soa_for(key)])


def start_dns(endpoint, log_path):
    family, host, port = parse_endpoint(endpoint)
    udp = socket.socket(family, socket.SOCK_DGRAM)
    udp.bind((host, port))
    tcp = socket.socket(family, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((host, port))
    tcp.listen(64)

    def serve_udp():
        while True:
            query, peer = udp.recvfrom(4096)
            out = answer(query, "udp", peer[0], log_path)
            if out:
                udp.sendto(out[:512] if len(out) > 512 else out, peer)

    def recv_exact(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def serve_tcp_conn(conn, peer):
        with conn:
            conn.settimeout(5)
            try:
                while True:
                    head = recv_exact(conn, 2)
                    if head is None:
                        return
                    query = recv_exact(conn, struct.unpack("!H", head)[0])
                    if query is None:
                        return
                    out = answer(query, "tcp", peer[0], log_path)
                    if out is None:
                        return
                    conn.sendall(struct.pack("!H", len(out)) + out)
            except OSError:
                return

    def serve_tcp():
        while True:
            conn, peer = tcp.accept()
            threading.Thread(target=serve_tcp_conn, args=(conn, peer), daemon=True).start()

    threading.Thread(target=serve_udp, daemon=True).start()
    threading.Thread(target=serve_tcp, daemon=True).start()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ready", required=True, help="file written once every listener is up")
    p.add_argument("--http", action="append", default=[], metavar="NAME=ADDR:PORT")
    p.add_argument("--dns", action="append", default=[], metavar="ADDR:PORT")
    p.add_argument("--dns-log", help="every question asked: NAME<TAB>TYPE<TAB>udp|tcp<TAB>CLIENT")
    a = p.parse_args()
    if a.dns and not a.dns_log:
        p.error("--dns needs --dns-log")
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    if a.dns_log:
        open(a.dns_log, "a").close()
    for spec in a.http:
        name, _, endpoint = spec.partition("=")
        start_http(name, endpoint)
    for endpoint in a.dns:
        start_dns(endpoint, a.dns_log)
    tmp = a.ready + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(tmp, a.ready)
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
