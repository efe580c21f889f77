#!/usr/bin/env python3
"""Regenerates the CMS test fixtures in this folder (checked in; run by hand).

Certificates are made with python3-cryptography because OpenSSL 3.0's command
line cannot set arbitrary validity dates; the signed messages are made by
`openssl cms -sign`, the real client whose output kensho must accept."""
import datetime
import os
import subprocess

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
UTC = datetime.timezone.utc


def key(name):
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with open(os.path.join(HERE, name + ".key"), "wb") as f:
        f.write(k.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))
    os.chmod(os.path.join(HERE, name + ".key"), 0o600)
    return k


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kensho test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def cert(file, subject, pub, issuer, issuer_key, serial, start, end, ca=False,
         usage=("digital_signature", "content_commitment")):
    flags = dict(digital_signature=False, content_commitment=False, key_encipherment=False,
                 data_encipherment=False, key_agreement=False, key_cert_sign=False,
                 crl_sign=False, encipher_only=False, decipher_only=False)
    for u in usage:
        flags[u] = True
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
         .public_key(pub).serial_number(serial).not_valid_before(start)
         .not_valid_after(end)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(**flags), critical=True))
    c = b.sign(issuer_key, hashes.SHA256())
    with open(os.path.join(HERE, file + ".pem"), "wb") as f:
        f.write(c.public_bytes(serialization.Encoding.PEM))
    return c


def main():
    t0 = datetime.datetime(2026, 1, 1, tzinfo=UTC)
    t_end = datetime.datetime(2046, 1, 1, tzinfo=UTC)
    ca_key = key("ca")
    other_key = key("other-ca")
    signer_key = key("signer")
    ca_usage = ("key_cert_sign", "crl_sign")
    cert("ca", name("kensho test CA"), ca_key.public_key(), name("kensho test CA"), ca_key,
         1, t0, t_end, ca=True, usage=ca_usage)
    cert("other-ca", name("unrelated CA"), other_key.public_key(), name("unrelated CA"),
         other_key, 1, t0, t_end, ca=True, usage=ca_usage)
    pub = signer_key.public_key()
    cert("signer", name("signer"), pub, name("kensho test CA"), ca_key, 0x1001, t0, t_end)
    cert("expired", name("expired"), pub, name("kensho test CA"), ca_key, 0x1002,
         datetime.datetime(2020, 1, 1, tzinfo=UTC), datetime.datetime(2021, 1, 1, tzinfo=UTC))
    cert("future", name("future"), pub, name("kensho test CA"), ca_key, 0x1003,
         datetime.datetime(2040, 1, 1, tzinfo=UTC), t_end)
    cert("wrongku", name("wrong key usage"), pub, name("kensho test CA"), ca_key, 0x1004,
         t0, t_end, usage=("key_encipherment",))
    cert("revoked", name("revoked"), pub, name("kensho test CA"), ca_key, 0x1006, t0, t_end)
    cert("extra", name("extra"), pub, name("kensho test CA"), ca_key, 0x1007, t0, t_end)
    cert("unknown", name("unknown issuer"), pub, name("unrelated CA"), other_key, 0x1005,
         t0, t_end)
    with open(os.path.join(HERE, "content.txt"), "wb") as f:
        f.write(b"application: change of address\nname: KENSHO TARO\n")



def sign(out, cert_name, *opts, detached=False):
    args = ["openssl", "cms", "-sign", "-binary", "-in", "content.txt", "-signer",
            cert_name + ".pem", "-inkey", "signer.key", "-outform", "DER", "-out", out]
    if not detached:
        args.append("-nodetach")
    subprocess.run(args + list(opts), cwd=HERE, check=True)


def messages():
    sign("attached.der", "signer")
    sign("detached.der", "signer", detached=True)
    sign("attached-noattr.der", "signer", "-noattr")
    sign("detached-noattr.der", "signer", "-noattr", detached=True)
    sign("attached-pss.der", "signer", "-keyopt", "rsa_padding_mode:pss")
    sign("attached-sha384.der", "signer", "-md", "sha384")
    sign("attached-sha512.der", "signer", "-md", "sha512", "-noattr")
    sign("expired.der", "expired")
    sign("future.der", "future")
    sign("wrongku.der", "wrongku")
    sign("unknown.der", "unknown")
    sign("revoked.der", "revoked")
    sign("attached-ber.der", "signer", "-stream")  # indefinite lengths: BER
    # nine certificates: one more than kensho's limit
    with open(os.path.join(HERE, "many-certs.pem"), "wb") as f:
        for c in ("ca", "other-ca", "expired", "future", "wrongku", "unknown", "revoked", "extra"):
            with open(os.path.join(HERE, c + ".pem"), "rb") as g:
                f.write(g.read())
    sign("too-many-certs.der", "signer", "-certfile", "many-certs.pem")
    os.unlink(os.path.join(HERE, "many-certs.pem"))


if __name__ == "__main__":
    main()
    messages()
