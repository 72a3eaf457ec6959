"""Captive-portal DNS: answers every A query with the access point's own address.

Phones and laptops that join the provisioning access point look up a probe host
(connectivitycheck.gstatic.com, captive.apple.com, www.msftconnecttest.com...); answering
all of them with the hub's address makes them open the portal page by themselves. Only
standard queries with one question are answered; anything else is ignored.
"""

import asyncio
import socket
import struct

from micropython import const

DNS_PORT = const(53)
MAX_QUERY = const(512)  # classic DNS over UDP limit (RAM cost: 512 B receive buffer)
TTL_S = const(60)
TYPE_A = const(1)
TYPE_ANY = const(255)
CLASS_IN = const(1)


def _question_end(packet):
    pos = 12
    while True:
        if pos >= len(packet):
            return None
        length = packet[pos]
        if length == 0:
            pos += 1
            break
        if length & 0xC0:  # no compression inside a query's question
            return None
        pos += 1 + length
    if pos + 4 > len(packet):
        return None
    return pos + 4


def answer(packet, ip):
    """The response to one query packet, or None if it is not a query to answer."""
    if len(packet) < 12:
        return None
    ident, flags, qdcount = struct.unpack(">HHH", packet[:6])
    if flags & 0x8000 or (flags >> 11) & 0xF or qdcount != 1:
        return None  # a response, not a standard query, or not exactly one question
    end = _question_end(packet)
    if end is None:
        return None
    qtype, qclass = struct.unpack(">HH", packet[end - 4 : end])
    question = packet[12:end]
    reply_flags = 0x8180 | (flags & 0x0100)  # response, recursion available, copy RD
    if qclass == CLASS_IN and qtype in (TYPE_A, TYPE_ANY):
        address = bytes(int(part) for part in ip.split("."))
        record = struct.pack(">HHHIH", 0xC00C, TYPE_A, CLASS_IN, TTL_S, 4) + address
        return struct.pack(">HHHHHH", ident, reply_flags, 1, 1, 0, 0) + question + record
    # AAAA and the rest: "no such record" without an error, so clients fall back to A.
    return struct.pack(">HHHHHH", ident, reply_flags, 1, 0, 0, 0) + question


class CatchAllDNS:
    """A tiny UDP DNS server for provisioning mode (one socket)."""

    def __init__(self, ip, port=DNS_PORT, host="0.0.0.0"):
        self.ip = ip
        self.port = port
        self.host = host
        self.sock = None
        self.answered = 0

    async def serve(self):
        """Answer queries until stop() or cancellation."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(socket.getaddrinfo(self.host, self.port)[0][-1])
        sock.setblocking(False)
        self.sock = sock
        try:
            while self.sock is not None:
                yield asyncio.core._io_queue.queue_read(sock)
                while True:
                    try:
                        packet, addr = sock.recvfrom(MAX_QUERY)
                    except OSError:
                        break  # drained
                    reply = answer(packet, self.ip)
                    if reply is not None:
                        sock.sendto(reply, addr)
                        self.answered += 1
        finally:
            sock.close()
            self.sock = None

    def stop(self):
        """Stop serving (the socket closes when serve() wakes up or is cancelled)."""
        self.sock = None
