"""Stand-alone card fixtures (two JPKI-style CAs, a key pair and certificate
for each of the card's keys) made with python3-cryptography, for tests that
exercise the card without a kensho CA. The end-to-end test uses `kensho ca
init` and `kensho issue` instead."""
import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

AGENCY = "Japan Agency for Local Authority Information Systems"


def _name(*parts):
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in parts])


def _write_key(path, key):
    with open(path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(path, 0o600)


def _write_cert(path, cert):
    with open(path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def make_card_fixture(out):
    """Writes {sign,auth}-ca.pem/.key, {sign,auth}.pem and {sign,auth}.key
    into out."""
    os.makedirs(out, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    for kind, ou, policy, usage in (
            ("sign", "JPKI for digital signature", "1.2.392.200149.8.5.1.1.20", True),
            ("auth", "JPKI for user authentication", "1.2.392.200149.8.5.1.3.30", False)):
        ca_key = rsa.generate_private_key(65537, 2048)
        ca_name = _name((NameOID.COUNTRY_NAME, "JP"), (NameOID.ORGANIZATION_NAME, "JPKI"),
                        (NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
                        (NameOID.ORGANIZATIONAL_UNIT_NAME, AGENCY))
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
              .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(days=1))
              .not_valid_after(now + datetime.timedelta(days=3650))
              .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
              .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                           False, False), critical=True)
              .sign(ca_key, hashes.SHA256()))
        key = rsa.generate_private_key(65537, 2048)
        subject = _name((NameOID.COUNTRY_NAME, "JP"),
                        (NameOID.COMMON_NAME, f"{kind} test card 0001"))
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=365 * 5))
                .add_extension(x509.KeyUsage(True, usage, False, False, False, False, False,
                                             False, False), critical=True)
                .add_extension(x509.CertificatePolicies([x509.PolicyInformation(
                    x509.ObjectIdentifier(policy), None)]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        _write_cert(os.path.join(out, f"{kind}-ca.pem"), ca)
        _write_key(os.path.join(out, f"{kind}-ca.key"), ca_key)
        _write_cert(os.path.join(out, f"{kind}.pem"), cert)
        _write_key(os.path.join(out, f"{kind}.key"), key)
    return out
