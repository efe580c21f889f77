#!/usr/bin/env python3
"""Regenerates tests/fuzz/corpus/tls_records/: ClientHellos captured from real
clients (openssl s_client, curl, gnutls-cli, python's ssl), truncated and
corrupted copies of them, and hand-made records for the post-handshake mode.
Each file is: mode byte, chunk byte, then the bytes the peer sends (see
fuzz_tls_records.c)."""
import os
import socket
import subprocess
import sys
import threading

OUT = os.path.join(os.path.dirname(__file__), "../../fuzz/corpus/tls_records")


def capture(cmd):
    """Runs a client against a listener that records its first flight."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    got = bytearray()

    def accept():
        conn, _ = srv.accept()
        conn.settimeout(2)
        try:
            while len(got) < 5 or len(got) < 5 + int.from_bytes(got[3:5], "big"):
                b = conn.recv(65536)
                if not b:
                    break
                got.extend(b)
        except OSError:
            pass
        conn.close()

    th = threading.Thread(target=accept)
    th.start()
    args = [a.replace("PORT", str(port)) for a in cmd]
    subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=10)
    th.join()
    srv.close()
    return bytes(got)


CLIENTS = {
    "openssl-default": ["openssl", "s_client", "-connect", "127.0.0.1:PORT"],
    "openssl-tls12": ["openssl", "s_client", "-tls1_2", "-connect", "127.0.0.1:PORT"],
    "openssl-tls13": ["openssl", "s_client", "-tls1_3", "-connect", "127.0.0.1:PORT"],
    "openssl-tls10": ["openssl", "s_client", "-tls1", "-cipher", "DEFAULT@SECLEVEL=0", "-connect", "127.0.0.1:PORT"],
    "openssl-weak-cbc": ["openssl", "s_client", "-tls1_2", "-cipher", "AES128-SHA", "-connect", "127.0.0.1:PORT"],
    "openssl-sni-alpn": ["openssl", "s_client", "-tls1_2", "-servername", "localhost", "-alpn", "http/1.1", "-connect", "127.0.0.1:PORT"],
    "openssl-no-ext": ["openssl", "s_client", "-tls1_2", "-no_ticket", "-legacy_renegotiation", "-connect", "127.0.0.1:PORT"],
    "curl": ["curl", "-sk", "--max-time", "3", "https://127.0.0.1:PORT/"],
    "curl-tls12": ["curl", "-sk", "--tlsv1.2", "--tls-max", "1.2", "--max-time", "3", "https://127.0.0.1:PORT/"],
    "gnutls": ["gnutls-cli", "--insecure", "-p", "PORT", "127.0.0.1"],
    "python-ssl": [sys.executable, "-c",
                   "import ssl,socket;c=ssl.create_default_context();c.check_hostname=False;"
                   "c.verify_mode=ssl.CERT_NONE;s=socket.create_connection(('127.0.0.1',PORT));"
                   "c.wrap_socket(s,server_hostname='localhost')"],
}


def write(name, mode, chunk, body):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([mode, chunk]) + body)


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, cmd in CLIENTS.items():
        try:
            hello = capture(cmd)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if len(hello) < 5:
            continue
        write(f"hello-{name}", 0, 255, hello)
        write(f"hello-{name}-bytewise", 0, 0, hello)
        write(f"hello-{name}-truncated", 0, 255, hello[: len(hello) // 2])
        write(f"hello-{name}-header-only", 0, 255, hello[:5])
        bad_len = bytearray(hello)
        bad_len[3:5] = b"\x48\x01"  # longer than the TLS 1.2 maximum
        write(f"hello-{name}-oversize", 0, 255, bytes(bad_len))
        inner = bytearray(hello)
        if len(inner) > 9:
            inner[6:9] = b"\xff\xff\xff"  # handshake length beyond the record
        write(f"hello-{name}-bad-hs-len", 0, 255, bytes(inner))
        twice = hello + hello  # a second ClientHello right after the first
        write(f"hello-{name}-twice", 0, 255, twice)
    # SSLv2-compatible hello (RFC 5246 appendix E.2), which we must refuse.
    sslv2 = bytes.fromhex("802e0103010015000000100000ff0000390000380000350000330000320000")
    write("sslv2-hello", 0, 255, sslv2 + os.urandom(16))
    write("http-on-tls-port", 0, 255, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    write("empty-records", 0, 255, bytes.fromhex("1603030000") * 4)
    write("alert-before-hello", 0, 255, bytes.fromhex("15030300020228"))
    write("ccs-before-hello", 0, 255, bytes.fromhex("140303000101"))
    # Post-handshake mode: records on an established session.
    write("post-garbage", 1, 4, os.urandom(300))
    write("post-plain-alert", 1, 255, bytes.fromhex("15030300020100"))
    write("post-unencrypted-appdata", 1, 255, bytes.fromhex("1703030005") + b"hello")
    write("post-short-appdata", 1, 255, bytes.fromhex("1703030004") + b"abcd")
    write("post-aead-sized", 3, 255, bytes.fromhex("170303001d") + os.urandom(29))
    write("post-truncated-header", 1, 255, bytes.fromhex("1703"))
    write("post-huge-length", 3, 255, bytes.fromhex("17030348ff") + os.urandom(64))
    write("post-heartbeat", 1, 255, bytes.fromhex("180303000301ffff"))
    write("post-unknown-type", 3, 0, bytes.fromhex("630303000400000000"))
    write("post-old-version", 1, 255, bytes.fromhex("170301001d") + os.urandom(29))


if __name__ == "__main__":
    main()
