#!/usr/bin/env python3
"""Writes tests/fuzz/corpus/card_apdu/: card answers for fuzz_card_apdu.c.

Each seed is the sequence of response APDUs (2-byte length + bytes) that the
virtual card (tests/emulator/jpki_card.py) gives to the commands the fuzz
target sends, in order, with certificates and keys made by openssl; then
truncated and malformed variants. Re-run after changing the target's command
sequence: python3 tests/unit/card/make_fuzz_corpus.py"""
import os
import struct
import subprocess
import sys
import tempfile
from types import SimpleNamespace

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "emulator"))
import jpki_card  # noqa: E402

OUT = os.path.join(ROOT, "tests", "fuzz", "corpus", "card_apdu")
AID_SELECT = bytes.fromhex("00A4040C0A") + jpki_card.AID


def select_ef(fid):
    return bytes.fromhex("00A4020C02") + fid.to_bytes(2, "big")


def read(offset, count):
    return bytes([0x00, 0xB0, offset >> 8, offset & 0xFF, count & 0xFF])


def session(card, pin="1234"):
    """Answers the fuzz target's commands, in its order, from the card."""
    answers = []

    def send(apdu):
        r = card.execute(apdu)
        answers.append(r)
        return r

    if send(AID_SELECT)[-2:] != b"\x90\x00":
        return answers
    send(select_ef(0x0006)) and send(read(0, 32))
    for pin_ef in (0x0018, 0x001B):
        send(select_ef(pin_ef))
        send(bytes.fromhex("00200080"))
    send(select_ef(0x000A))
    head = send(read(0, 8))
    if head[-2:] == b"\x90\x00" and head[0] == 0x30:
        n = head[1] & 0x7F if head[1] & 0x80 else 0
        total = int.from_bytes(head[2:2 + n], "big") + 2 + n if n else head[1] + 2
        done = min(8, total)
        while done < total:
            chunk = min(256, total - done)
            r = send(read(done, chunk))
            if r[-2:] != b"\x90\x00":
                break
            done += len(r) - 2
    send(select_ef(0x0018))
    send(bytes.fromhex("0020008004") + pin.encode())
    send(select_ef(0x0017))
    digest_info = bytes.fromhex("3031300d060960864801650304020105000420") + bytes(32)
    send(bytes.fromhex("802A008033") + digest_info + b"\x00")
    return answers


def encode(answers):
    return b"".join(struct.pack("!H", len(a)) + a for a in answers)


def openssl_card(tmp, kind):
    key = os.path.join(tmp, f"{kind}.key")
    cert = os.path.join(tmp, f"{kind}.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "365", "-subj", f"/C=JP/CN={kind} fuzz seed"],
                   check=True, capture_output=True)
    return key, cert


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        sign_key, sign_cert = openssl_card(tmp, "sign")
        auth_key, auth_cert = openssl_card(tmp, "auth")

        def card(**kw):
            args = dict(no_jpki=False, token="JPKIAPICCTOKEN2", sign_cert=sign_cert,
                        sign_ca=sign_cert, sign_key=sign_key, auth_cert=auth_cert,
                        auth_ca=auth_cert, auth_key=auth_key, sign_pin="ABC123",
                        auth_pin="1234")
            args.update(kw)
            c = jpki_card.JpkiCard(SimpleNamespace(**args))
            c.execute(AID_SELECT)  # power-on state is unselected; session reselects
            c.reset()
            return c

        seeds = {}
        seeds["my_number_session"] = encode(session(card()))
        seeds["resident_card_session"] = encode(session(card(token="JPKIAPICCTOKEN")))
        seeds["wrong_pin_session"] = encode(session(card(), pin="9999"))
        blocked = card()
        blocked.pins[jpki_card.EF_AUTH_PIN].left = 0
        seeds["blocked_pin_session"] = encode(session(blocked))
        seeds["not_jpki"] = encode(session(card(no_jpki=True)))
        full = seeds["my_number_session"]
        seeds["truncated_half"] = full[:len(full) // 2]
        seeds["truncated_in_header"] = full[:1]
        # Answers without status words, oversize answers, odd DER headers.
        ok = struct.pack("!H", 2) + b"\x90\x00"
        seeds["no_status_word"] = ok + struct.pack("!H", 1) + b"\x90"
        seeds["oversize_answer"] = ok + struct.pack("!H", 600) + b"\x41" * 600 + b"\x90\x00"
        token = struct.pack("!H", 34) + b"JPKIAPICCTOKEN2".ljust(32) + b"\x90\x00"
        tries = ok + struct.pack("!H", 2) + b"\x63\xc3"
        prefix = ok + ok + token + tries + ok + struct.pack("!H", 2) + b"\x63\xc5" + ok
        for name, header in (("der_indefinite", b"\x30\x80"), ("der_three_length_octets",
                                                              b"\x30\x83\x00\x10\x00"),
                             ("der_non_minimal", b"\x30\x81\x05"),
                             ("der_too_large", b"\x30\x82\x7f\xff"),
                             ("der_short_form", b"\x30\x05\x02\x01\x01\x05\x00")):
            body = header.ljust(8, b"\xff")
            seeds[name] = prefix + struct.pack("!H", len(body) + 2) + body + b"\x90\x00"
        seeds["cert_ends_early"] = (prefix + struct.pack("!H", 10) + b"\x30\x82\x05\x00" +
                                    b"\x00" * 4 + b"\x90\x00" + struct.pack("!H", 2) +
                                    b"\x6b\x00")
        seeds["bare_ok"] = b"\x90\x00"
        seeds["bare_tries"] = b"\x63\xc3"
        seeds["bare_cert_header"] = b"\x30\x82\x04\x00"
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(seeds)} seeds to {OUT}")


if __name__ == "__main__":
    main()
