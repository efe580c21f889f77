#!/usr/bin/env python3
"""Regenerates tests/fuzz/corpus/tls_ticket/ from real tickets: kenshod runs
with the fuzz target's master secret (bytes 0..31) as tls.ticket_key, and
openssl s_client (with and without a client certificate, several cipher
suites) saves the sessions it gets. Each ticket is written as issued (mode 0)
and, decrypted here independently with HKDF-SHA256 and AES-256-GCM as
docs/tls.md describes, as plaintext (mode 1); then truncated, bit-flipped,
expired, wrong-trust and wrong-version variants. Input layout: see
fuzz_tls_ticket.c. Usage: make_ticket_corpus.py BUILD_DIR"""
import base64
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "../../fuzz/corpus/tls_ticket")
sys.path.insert(0, os.path.join(HERE, "../../integration"))
MASTER = bytes(range(32))
ROTATION = 12 * 3600


def derive(period):
    okm = HKDF(algorithm=hashes.SHA256(), length=48, salt=None,
               info=b"kensho ticket" + period.to_bytes(8, "big")).derive(MASTER)
    return okm[:32], okm[32:]


def trust_fp(pem_path):
    h = hashlib.sha256()
    for b64 in re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----",
                          open(pem_path).read(), re.S):
        h.update(base64.b64decode("".join(b64.split())))
    return h.digest()


def ticket_from(sess_file):
    text = subprocess.run(["openssl", "sess_id", "-in", sess_file, "-text", "-noout"],
                          capture_output=True, text=True, check=True).stdout
    out = bytearray()
    on = False
    for line in text.splitlines():
        if "TLS session ticket:" in line:
            on = True
            continue
        if on:
            m = re.match(r"\s*[0-9a-f]{4} - (.{1,48})", line)
            if not m:
                break
            out += bytes.fromhex(m.group(1).replace("-", " "))
    return bytes(out)


def main():
    build = sys.argv[1]
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.unlink(os.path.join(OUT, f))
    from harness import Server  # noqa: E402
    with tempfile.TemporaryDirectory() as tmp:
        key = os.path.join(tmp, "ticket.key")
        fd = os.open(key, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, MASTER.hex().encode() + b"\n")
        os.close(fd)
        conf = os.path.join(tmp, "k.conf")
        open(conf, "w").write(f"tls.ticket_key = {key}\n")
        data = os.path.join(tmp, "data")
        seeds = {}
        with Server(data=data, tls=True, args=["--config", conf]) as srv:
            tls = os.path.join(data, "tls")
            fp = trust_fp(os.path.join(tls, "ca.pem"))
            clients = {
                "anon-aes256": [],
                "anon-chacha": ["-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305"],
                "anon-aes128": ["-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"],
                "operator": ["-cert", f"{tls}/clients/operator.pem",
                             "-key", f"{tls}/clients/operator.key"],
                "personal": ["-cert", f"{tls}/clients/personal.pem",
                             "-key", f"{tls}/clients/personal.key"],
            }
            for name, extra in clients.items():
                sess = os.path.join(tmp, name + ".sess")
                subprocess.run(["openssl", "s_client", "-tls1_2", "-connect",
                                f"127.0.0.1:{srv.tls_port}", "-servername", "localhost",
                                "-CAfile", f"{tls}/ca.pem", "-sess_out", sess] + extra,
                               input=b"", capture_output=True, timeout=20, check=True)
                now = int(time.time())
                ticket = ticket_from(sess)
                k, n = derive(now // ROTATION)
                if ticket[:16] != n:
                    sys.exit(f"{name}: key name does not match the derived one")
                inner = AESGCM(k).decrypt(ticket[16:28], ticket[28:], ticket[:16])
                seeds[name] = (now, ticket, inner)
        for name, (now, ticket, inner) in seeds.items():
            def put(label, mode, body, at=now, fpv=fp):
                with open(os.path.join(OUT, f"{name}-{label}"), "wb") as f:
                    f.write(bytes([mode]) + (at << 1).to_bytes(8, "big") + fpv + body)
            put("ticket", 0, ticket)
            put("plain", 1, inner)
            if name != "anon-aes256":
                continue
            put("ticket-next-period", 0, ticket, (now // ROTATION + 1) * ROTATION + 1)
            put("ticket-two-periods", 0, ticket, now + 2 * ROTATION)
            put("ticket-expired", 0, ticket, now + ROTATION + 1)
            put("ticket-other-trust", 0, ticket, now, bytes(32))
            put("ticket-truncated", 0, ticket[:len(ticket) // 2])
            put("ticket-name-only", 0, ticket[:16])
            flipped = bytearray(ticket)
            flipped[40] ^= 1
            put("ticket-flipped", 0, bytes(flipped))
            put("plain-version2", 1, b"\x02" + inner[1:])
            put("plain-truncated-session", 1, inner[:41 + (len(inner) - 41) // 2])
            put("plain-header-only", 1, inner[:41])
            put("plain-future", 1, inner[:1] + (now + 10000).to_bytes(8, "big") + inner[9:])
            put("plain-garbage-session", 1, inner[:41] + bytes(range(256)) * 2)
        open(os.path.join(OUT, "empty-ticket"), "wb").write(bytes(41))
    print(f"{len(os.listdir(OUT))} seeds in {OUT}")


if __name__ == "__main__":
    main()
