"""kensho's CA certificates have the shape of the real JPKI 2023 CA
certificates (jpki-reference/ beside this file): the same DER tree, node by
node (tag, length, and value), with the extensions' values parsed too. Only
these values may differ, because they must: the serial's value (its length
must be the same four octets, top bit clear), the two dates (notAfter must
still be 23:59:59 JST, i.e. 14:59:59Z), the public key, the
subjectKeyIdentifier's value and the signature. kensho's CA names and its
subjectAltName's service names are the real ones, so names are compared
value for value.

The comparison is checked against mutants of kensho's own certificate (an
extension dropped, two swapped, a criticality flipped, a string type
changed) so that it is known to fail where it must."""
import datetime
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import KENSHO, Server, check, run, wait_for  # noqa: E402

REFERENCE = os.path.join(os.path.dirname(__file__), "jpki-reference")

# --- a tiny DER walker ------------------------------------------------------------

TAG_NAMES = {0x01: "BOOLEAN", 0x02: "INTEGER", 0x03: "BIT STRING", 0x04: "OCTET STRING",
             0x05: "NULL", 0x06: "OID", 0x0C: "UTF8String", 0x13: "PrintableString",
             0x17: "UTCTime", 0x18: "GeneralizedTime", 0x30: "SEQUENCE", 0x31: "SET"}


class Node:
    def __init__(self, tag, value, children=None):
        self.tag = tag
        self.value = value          # content octets
        self.children = children    # list of Node for constructed (and parsed extnValues)

    def encode(self):
        if self.children is not None:
            body = b"".join(c.encode() for c in self.children)
        else:
            body = self.value
        n = len(body)
        if n < 0x80:
            length = bytes([n])
        else:
            octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
            length = bytes([0x80 | len(octets)]) + octets
        return bytes([self.tag]) + length + body


def parse(data):
    """Parses a sequence of DER TLVs; raises ValueError on anything that is
    not strict DER of the kinds certificates use."""
    nodes, i = [], 0
    while i < len(data):
        tag = data[i]
        if tag & 0x1F == 0x1F:
            raise ValueError("high tag numbers are not used here")
        if i + 1 >= len(data):
            raise ValueError("truncated")
        first = data[i + 1]
        i += 2
        if first < 0x80:
            n = first
        else:
            k = first & 0x7F
            if k == 0 or k > 4 or i + k > len(data) or data[i] == 0:
                raise ValueError("bad length")
            n = int.from_bytes(data[i:i + k], "big")
            if n < 0x80:
                raise ValueError("non-minimal length")
            i += k
        if i + n > len(data):
            raise ValueError("truncated")
        value = data[i:i + n]
        i += n
        nodes.append(Node(tag, value, parse(value) if tag & 0x20 else None))
    return nodes


def certificate(der):
    """The certificate's tree, with each extension's extnValue parsed."""
    (cert,) = parse(der)
    tbs = cert.children[0]
    for ext in extensions(tbs):
        octets = ext.children[-1]
        octets.children = parse(octets.value)
    return cert


def extensions(tbs):
    explicit = [c for c in tbs.children if c.tag == 0xA3]
    return explicit[0].children[0].children if explicit else []


def oid_text(value):
    first = value[0]
    parts = [first // 40, first % 40] if first < 80 else [2, first - 80]
    n = 0
    for b in value[1:]:
        n = (n << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(n)
            n = 0
    return ".".join(str(p) for p in parts)


EXTENSION_NAMES = {"2.5.29.14": "subjectKeyIdentifier", "2.5.29.15": "keyUsage",
                   "2.5.29.17": "subjectAltName", "2.5.29.19": "basicConstraints",
                   "2.5.29.31": "cRLDistributionPoints", "2.5.29.35": "authorityKeyIdentifier"}


def describe(node):
    return TAG_NAMES.get(node.tag, f"tag 0x{node.tag:02x}")


# Paths are tuples of child indexes from the Certificate. TBSCertificate is
# (0,); in it: version 0, serialNumber 1, signature 2, issuer 3, validity 4,
# subject 5, subjectPublicKeyInfo 6, extensions 7.
SERIAL = (0, 1)
NOT_BEFORE = (0, 4, 0)
NOT_AFTER = (0, 4, 1)
PUBLIC_KEY = (0, 6, 1)
SIGNATURE = (2,)
SKI_OID = "2.5.29.14"


def masked_paths(cert):
    """The paths whose values may differ, and why."""
    paths = {SERIAL: "serial value", NOT_BEFORE: "notBefore", NOT_AFTER: "notAfter",
             PUBLIC_KEY: "public key", SIGNATURE: "signature"}
    for i, ext in enumerate(extensions(cert.children[0])):
        if oid_text(ext.children[0].value) == SKI_OID:
            # Extension -> extnValue OCTET STRING -> its KeyIdentifier OCTET STRING
            paths[(0, 7, 0, i, len(ext.children) - 1, 0)] = "key identifier"
    return paths


def compare(reference, ours, path=(), masks=None, out=None):
    """Lists every difference between two trees outside the masked values."""
    if masks is None:
        masks = masked_paths(reference)
        out = []
    where = "/".join(str(p) for p in path) or "root"
    if reference.tag != ours.tag:
        out.append(f"{where}: {describe(ours)} where the reference has {describe(reference)}")
        return out
    if len(reference.value) != len(ours.value):
        out.append(f"{where}: {describe(ours)} of {len(ours.value)} octets, "
                   f"reference {len(reference.value)}")
        return out
    if reference.children is not None and ours.children is not None:
        if len(reference.children) != len(ours.children):
            out.append(f"{where}: {len(ours.children)} elements, reference "
                       f"{len(reference.children)}")
            return out
        for i, (r, o) in enumerate(zip(reference.children, ours.children)):
            compare(r, o, path + (i,), masks, out)
    elif path not in masks and reference.value != ours.value:
        out.append(f"{where}: {describe(ours)} {ours.value!r} where the reference has "
                   f"{reference.value!r}")
    return out


def extension_summary(cert):
    return [(EXTENSION_NAMES.get(oid_text(e.children[0].value), oid_text(e.children[0].value)),
             len(e.children) == 3 and e.children[1].value == b"\xff")
            for e in extensions(cert.children[0])]


def pem_to_der(path):
    return subprocess.run(["openssl", "x509", "-in", path, "-outform", "DER"], check=True,
                          capture_output=True).stdout


# --- mutants: the comparison must notice these --------------------------------------


def mutant(der, change):
    cert = certificate(der)
    change(cert)
    # re-encode bottom-up so the changed lengths propagate
    return cert.encode()


def exts_node(cert):
    return cert.children[0].children[7].children[0]


def drop_extension(cert):
    del exts_node(cert).children[1]


def swap_extensions(cert):
    c = exts_node(cert).children
    c[1], c[2] = c[2], c[1]


def flip_critical(cert):
    del exts_node(cert).children[0].children[1]  # keyUsage no longer critical


def printable_org(cert):
    org = cert.children[0].children[5].children[1].children[0].children[1]
    org.tag = 0x13  # O as PrintableString


def alt_name_utf8_country(cert):
    san = exts_node(cert).children[1].children[-1]
    name = san.children[0].children[0].children[0]
    name.children[0].children[0].children[1].tag = 0x0C  # C as UTF8String


def long_serial(cert):
    cert.children[0].children[1].value = b"\x01" * 16


MUTANTS = [("an extension dropped", drop_extension),
           ("two extensions swapped", swap_extensions),
           ("keyUsage not critical", flip_critical),
           ("O as PrintableString", printable_org),
           ("the subjectAltName's C as UTF8String", alt_name_utf8_country),
           ("a 16-octet serial", long_serial)]


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-ca-shape-") as tmp:
        data = os.path.join(tmp, "data")
        run(KENSHO, "--data", data, "ca", "init")
        check_data_dir(data, "kensho ca init")
    # kenshod's first start on an empty directory makes its CAs the same way
    with Server() as server:
        wait_for("kenshod's bootstrap wrote its CAs",
                 lambda: os.path.exists(os.path.join(server.data, "ca", "auth-ca.pem")))
        check_data_dir(server.data, "kenshod's first start")


def check_data_dir(data, who):
    """Compares the two CA certificates of a data directory with the reference."""
    for label, reference_file in (("sign", "sign_ca_2023.pem"), ("auth", "auth_ca_2023.pem")):
        print(f"# {who}: {label} CA", flush=True)
        ref_der = pem_to_der(os.path.join(REFERENCE, reference_file))
        ours_path = os.path.join(data, "ca", f"{label}-ca.pem")
        our_der = pem_to_der(ours_path)
        reference, ours = certificate(ref_der), certificate(our_der)

        check(extension_summary(ours) == extension_summary(reference),
              f"{label} CA: extensions and criticality in the reference's order "
              f"{extension_summary(reference)}")
        differences = compare(reference, ours)
        check(differences == [], f"{label} CA: the DER tree matches {reference_file} "
              f"outside serial value, dates, key, key identifier and signature: {differences}")

        serial = ours.children[0].children[1].value
        check(len(serial) == 4 and serial[0] & 0x80 == 0 and serial[0] != 0,
              f"{label} CA: a positive four-octet serial ({serial.hex()})")
        not_before = ours.children[0].children[4].children[0].value.decode()
        not_after = ours.children[0].children[4].children[1].value.decode()
        check(not_after.endswith("145959Z"), f"{label} CA: notAfter {not_after} is 23:59:59 JST")
        jst = datetime.timezone(datetime.timedelta(hours=9))
        issued = datetime.datetime.strptime(not_before, "%y%m%d%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc).astimezone(jst).date()
        last = datetime.datetime.strptime(not_after, "%y%m%d%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc).astimezone(jst).date()
        try:
            anniversary = issued.replace(year=issued.year + 10)
        except ValueError:  # 29 February
            anniversary = datetime.date(issued.year + 10, 3, 1)
        check(last == anniversary - datetime.timedelta(days=1),
              f"{label} CA: the last day {last} (JST) is the day before the tenth "
              f"anniversary of {issued}")
        verify = run("openssl", "verify", "-CAfile", ours_path, ours_path, check=False)
        check(verify.returncode == 0, f"{label} CA: openssl verifies its self-signature")

        for what, change in MUTANTS:
            broken = certificate(mutant(our_der, change))
            found = compare(reference, broken)
            check(found != [], f"{label} CA: the comparison rejects {what}: {found[:1]}")


if __name__ == "__main__":
    main()
