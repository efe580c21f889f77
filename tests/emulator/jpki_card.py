#!/usr/bin/env python3
"""A virtual JPKI card for tests: speaks vsmartcard's vpcd protocol to the
vpcd reader driver inside pcscd, so clients reach it through the real
pcsc-lite stack.

The vpcd protocol (vsmartcard's ifd-vpcd): one TCP connection per virtual
card; every message in either direction is a 2-byte big-endian length and the
payload. A 1-byte payload from vpcd is a control code (0 power off, 1 power
on, 2 reset, 4 send the ATR); anything longer is a command APDU, answered by
the response APDU. Closing the connection removes the card from the reader.

The card implements the JPKI application as docs/jpki.md (and
docs/card.md) describe it: SELECT by AID and by EF id, READ BINARY, VERIFY (with
and without data), COMPUTE DIGITAL SIGNATURE, the two PINs with 3 and 5
tries, counters reset only by a correct PIN, lockout at zero.
"""
import argparse
import socket
import struct
import sys
import time

from cryptography.hazmat.primitives import serialization
from cryptography import x509

AID = bytes.fromhex("D392F000260100000001")
# A T=1 ATR with no historical bytes: TS 3B, T0 80 (TD1 follows), TD1 80
# (TD2 follows, T=0 offered), TD2 01 (T=1), TCK = XOR(T0..TD2).
ATR = bytes.fromhex("3B80800101")

SW_OK = b"\x90\x00"
SW_FILE_NOT_FOUND = b"\x6a\x82"
SW_SECURITY = b"\x69\x82"
SW_BLOCKED = b"\x69\x83"
SW_NOT_ALLOWED = b"\x69\x86"
SW_WRONG_P1P2 = b"\x6b\x00"
SW_WRONG_LENGTH = b"\x67\x00"
SW_INS = b"\x6d\x00"
SW_CLA = b"\x6e\x00"

EF_SIGN_CERT, EF_SIGN_CA, EF_TOKEN = 0x0001, 0x0002, 0x0006
EF_AUTH_CERT, EF_AUTH_CA = 0x000A, 0x000B
EF_AUTH_KEY, EF_AUTH_PIN, EF_SIGN_KEY, EF_SIGN_PIN = 0x0017, 0x0018, 0x001A, 0x001B

# Each certificate EF is larger than its certificate (as on real cards):
# clients must read the DER header to know where the certificate ends.
CERT_EF_PADDING = 300


def load_der_cert(path):
    data = open(path, "rb").read()
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificate(data).public_bytes(serialization.Encoding.DER)
    return data


class Pin:
    def __init__(self, value, tries):
        self.value = value.encode("ascii")
        self.max = tries
        self.left = tries
        self.verified = False

    def verify(self, attempt):
        if self.left == 0:
            return SW_BLOCKED
        if attempt == self.value:
            self.left = self.max
            self.verified = True
            return SW_OK
        self.left -= 1
        self.verified = False
        return bytes([0x63, 0xC0 | self.left])


class JpkiCard:
    def __init__(self, args):
        self.has_jpki = not args.no_jpki
        token = args.token.encode("ascii").ljust(0x20, b" ")
        self.files = {EF_TOKEN: token}
        for fid, path in ((EF_SIGN_CERT, args.sign_cert), (EF_SIGN_CA, args.sign_ca),
                          (EF_AUTH_CERT, args.auth_cert), (EF_AUTH_CA, args.auth_ca)):
            if path:
                self.files[fid] = load_der_cert(path) + b"\xff" * CERT_EF_PADDING
        self.keys = {}
        for fid, path in ((EF_SIGN_KEY, args.sign_key), (EF_AUTH_KEY, args.auth_key)):
            if path:
                self.keys[fid] = serialization.load_pem_private_key(open(path, "rb").read(), None)
        self.pins = {EF_AUTH_PIN: Pin(args.auth_pin, 3), EF_SIGN_PIN: Pin(args.sign_pin, 5)}
        # Which PIN guards which EF (the signing certificate holds personal data).
        self.guard = {EF_SIGN_CERT: EF_SIGN_PIN, EF_SIGN_KEY: EF_SIGN_PIN, EF_AUTH_KEY: EF_AUTH_PIN}
        self.reset()

    def reset(self):
        """Power off / reset: the security state is lost, counters are not."""
        self.app_selected = False
        self.ef = None
        for pin in self.pins.values():
            pin.verified = False

    def allowed(self, fid):
        guard = self.guard.get(fid)
        return guard is None or self.pins[guard].verified

    def execute(self, apdu):
        if len(apdu) < 4:
            return SW_WRONG_LENGTH
        cla, ins, p1, p2 = apdu[:4]
        body = apdu[4:]
        lc, data, le = 0, b"", None
        if len(body) == 1:
            le = body[0] or 256
        elif len(body) > 1:
            lc = body[0]
            data = body[1:1 + lc]
            if len(data) != lc:
                return SW_WRONG_LENGTH
            rest = body[1 + lc:]
            if len(rest) == 1:
                le = rest[0] or 256
            elif rest:
                return SW_WRONG_LENGTH
        if (cla, ins) == (0x00, 0xA4):
            return self.select(p1, p2, data)
        if (cla, ins) == (0x00, 0xB0):
            return self.read_binary((p1 << 8) | p2, le or 256)
        if (cla, ins) == (0x00, 0x20):
            return self.verify(p1, p2, data)
        if (cla, ins) == (0x80, 0x2A):
            return self.sign(p1, p2, data)
        if cla not in (0x00, 0x80):
            return SW_CLA
        return SW_INS

    def select(self, p1, p2, data):
        if p1 == 0x04:
            if self.has_jpki and data == AID:
                self.app_selected = True
                self.ef = None
                return SW_OK
            return SW_FILE_NOT_FOUND
        if p1 == 0x02 and len(data) == 2:
            fid = int.from_bytes(data, "big")
            known = fid in self.files or fid in self.keys or fid in self.pins
            if not self.app_selected or not known:
                return SW_FILE_NOT_FOUND
            self.ef = fid
            return SW_OK
        return SW_WRONG_P1P2

    def read_binary(self, offset, length):
        content = self.files.get(self.ef)
        if content is None:
            return SW_NOT_ALLOWED
        if not self.allowed(self.ef):
            return SW_SECURITY
        if offset >= len(content):
            return SW_WRONG_P1P2
        return content[offset:offset + length] + SW_OK

    def verify(self, p1, p2, data):
        pin = self.pins.get(self.ef)
        if pin is None or (p1, p2) != (0x00, 0x80):
            return SW_NOT_ALLOWED
        if not data:
            # Tries query: 63Cx whatever the state (JPKI facts).
            return bytes([0x63, 0xC0 | pin.left])
        return pin.verify(data)

    def sign(self, p1, p2, digest_info):
        key = self.keys.get(self.ef)
        if key is None or (p1, p2) != (0x00, 0x80):
            return SW_NOT_ALLOWED
        if not self.allowed(self.ef):
            return SW_SECURITY
        numbers = key.private_numbers()
        k = (key.key_size + 7) // 8
        if not digest_info or len(digest_info) > k - 11:
            return SW_WRONG_LENGTH
        # EMSA-PKCS1-v1_5 encoding (RFC 8017 §9.2 step 5) of the DigestInfo as
        # given, then RSASP1 (§5.2.1): the card signs what it is handed.
        em = b"\x00\x01" + b"\xff" * (k - 3 - len(digest_info)) + b"\x00" + digest_info
        m = int.from_bytes(em, "big")
        s = pow(m, numbers.d, numbers.public_numbers.n)
        return s.to_bytes(k, "big") + SW_OK


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("vpcd closed the connection")
        data += chunk
    return data


def send_message(sock, payload):
    sock.sendall(struct.pack("!H", len(payload)) + payload)


def connect(host, port, timeout):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection((host, port), timeout=2)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def serve(card, sock, remove_after, log):
    sock.settimeout(None)
    apdus = 0
    while True:
        size = struct.unpack("!H", recv_exact(sock, 2))[0]
        msg = recv_exact(sock, size)
        if size == 1:
            code = msg[0]
            if code in (0, 2):
                card.reset()
            elif code == 4:
                send_message(sock, ATR)
            continue
        apdus += 1
        if remove_after and apdus >= remove_after:
            # Pull the card out while a command is in flight.
            log(f"removing the card at APDU {apdus}")
            sock.close()
            return
        # Log the header only: VERIFY's data is a PIN.
        log(f"APDU {msg[:4].hex()}")
        send_message(sock, card.execute(msg))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=35963, help="vpcd's port")
    p.add_argument("--sign-cert"), p.add_argument("--sign-ca"), p.add_argument("--sign-key")
    p.add_argument("--auth-cert"), p.add_argument("--auth-ca"), p.add_argument("--auth-key")
    p.add_argument("--sign-pin", default="ABC123")
    p.add_argument("--auth-pin", default="1234")
    p.add_argument("--token", default="JPKIAPICCTOKEN2")
    p.add_argument("--no-jpki", action="store_true", help="a card without the application")
    p.add_argument("--remove-after", type=int, default=0,
                   help="drop the connection (remove the card) at this APDU")
    p.add_argument("--connect-timeout", type=float, default=10.0)
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()

    def log(text):
        if args.verbose:
            print(f"jpki_card: {text}", file=sys.stderr, flush=True)

    card = JpkiCard(args)
    sock = connect(args.host, args.port, args.connect_timeout)
    log(f"inserted into vpcd at {args.host}:{args.port}")
    try:
        serve(card, sock, args.remove_after, log)
    except ConnectionError:
        pass
    finally:
        sock.close()


if __name__ == "__main__":
    main()
