#!/usr/bin/env python3
"""Writes the synthetic part of tests/fuzz/corpus/proxy_protocol/: PROXY v2
headers of each family and command, with and without PP2_TYPE_SSL and
CRC32C, and malformed ones. The two haproxy-2.6-* files beside them are
headers Debian's HAProxy 2.6 sent (send-proxy-v2-ssl-cn with
proxy-v2-options ssl,cert-cn,cert-sig,cert-key,unique-id,crc32c), with and
without a client certificate. Usage: make_proxy_corpus.py CORPUS_DIR"""
import os
import struct
import sys

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def header(ver_cmd, fam, addr, tlvs=b"", crc=False):
    if crc:
        tlvs += b"\x03\x00\x04\x00\x00\x00\x00"
    body = addr + tlvs
    h = SIG + bytes([ver_cmd, fam]) + struct.pack(">H", len(body)) + body
    if crc:
        h = h[:-4] + struct.pack(">I", crc32c(h))
    return h


def tlv(t, v):
    return bytes([t]) + struct.pack(">H", len(v)) + v


V4 = bytes([192, 0, 2, 1, 127, 0, 0, 1]) + struct.pack(">HH", 40000, 443)
V6 = bytes(15) + b"\x01" + bytes(15) + b"\x01" + struct.pack(">HH", 40000, 443)
SSL = tlv(0x20, b"\x07\x00\x00\x00\x00" + tlv(0x21, b"TLSv1.2") + tlv(0x22, b"operator"))
GET = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"

CASES = {
    "v4-plain": header(0x21, 0x11, V4) + GET,
    "v6-plain": header(0x21, 0x21, V6) + GET,
    "local-unspec": header(0x20, 0x00, b"") + GET,
    "v4-ssl-cn": header(0x21, 0x11, V4, SSL) + GET,
    "v4-ssl-cn-crc": header(0x21, 0x11, V4, SSL + tlv(0x05, b"id-1") + tlv(0x02, b"ocsp.example"),
                            crc=True) + GET,
    "bad-crc": header(0x21, 0x11, V4, SSL + b"\x03\x00\x04\x01\x02\x03\x04") + GET,
    "bad-version": header(0x11, 0x11, V4) + GET,
    "udp": header(0x21, 0x12, V4) + GET,
    "tlv-overrun": header(0x21, 0x11, V4, b"\x20\x00\x40\x07") + GET,
    "two-ssl": header(0x21, 0x11, V4, SSL + SSL) + GET,
    "truncated": header(0x21, 0x11, V4, SSL)[:30],
    "v1-text": b"PROXY TCP4 192.0.2.1 127.0.0.1 40000 443\r\n" + GET,
    "http-only": GET,
    "trusted-list": b"10.0.0.0/8, 192.0.2.7 2001:db8::/32 ::ffff:127.0.0.1",
}

if __name__ == "__main__":
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in CASES.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
