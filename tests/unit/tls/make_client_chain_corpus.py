#!/usr/bin/env python3
"""Writes tests/fuzz/corpus/tls_client_chain/: Certificate message bodies
(RFC 5246 §7.4.2) as clients send them, made with openssl: an empty list, one
P-256 certificate, a chain of two, an RSA-2048 one, and an RSA key over the
size bound; and a policy file. Run from the source tree root."""
import os
import subprocess
import tempfile

OUT = os.path.join(os.path.dirname(__file__), "../../fuzz/corpus/tls_client_chain")


def sh(*args):
    subprocess.run(args, check=True, capture_output=True)


def cert(tmp, name, keyargs, issuer=None):
    key, pem, der = (os.path.join(tmp, name + s) for s in (".key", ".pem", ".der"))
    sh("openssl", "genpkey", *keyargs, "-out", key)
    if issuer:
        csr = os.path.join(tmp, name + ".csr")
        sh("openssl", "req", "-new", "-key", key, "-subj", f"/CN={name}", "-out", csr)
        sh("openssl", "x509", "-req", "-in", csr, "-CA", issuer[0], "-CAkey", issuer[1],
           "-set_serial", "7", "-days", "1", "-out", pem)
    else:
        sh("openssl", "req", "-x509", "-new", "-key", key, "-subj", f"/CN={name}", "-days", "1",
           "-out", pem)
    sh("openssl", "x509", "-in", pem, "-outform", "der", "-out", der)
    return pem, key, open(der, "rb").read()


def body(*ders):
    entries = b"".join(len(d).to_bytes(3, "big") + d for d in ders)
    return len(entries).to_bytes(3, "big") + entries


def main():
    os.makedirs(OUT, exist_ok=True)
    ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    with tempfile.TemporaryDirectory() as tmp:
        ca_pem, ca_key, ca = cert(tmp, "ca", ec)
        _, _, leaf = cert(tmp, "leaf", ec, (ca_pem, ca_key))
        _, _, rsa = cert(tmp, "rsa2048", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
        _, _, big = cert(tmp, "rsa4608", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4608"])
    samples = {
        "empty": body(),
        "p256-leaf": body(leaf),
        "p256-chain": body(leaf, ca),
        "rsa2048": body(rsa),
        "rsa4608-refused": body(big),
        "truncated": body(leaf, ca)[:-40],
        "policy": b"operator issuer " + b"01" * 32 + b" subject CN=x, O=y\n"
                  b"deny spki " + b"ab" * 32 + b"\ndeny issuer " + b"01" * 32 +
                  b" serial 0a:1b\nrelying-party anonymous\n",
    }
    for name, data in samples.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
