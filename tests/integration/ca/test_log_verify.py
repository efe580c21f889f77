#!/usr/bin/env python3
"""The Merkle log end to end: receipts name their leaf; kenshod signs tree
heads that `openssl dgst -verify` accepts with the receipt certificate; the
inclusion and consistency proofs of GET /v1/log/... check out with an
RFC 9162 verifier written here with hashlib; `kensho audit verify` passes on
the untouched store and catches a record edited or deleted directly in LMDB
(python3-lmdb, no kensho code), each on its own copy of the store."""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../intake"))
from harness import KENSHO, Server, check, run, wait_for  # noqa: E402
from intake_common import allow_plain, connect, issue, openssl_sign, post, verify_receipt  # noqa: E402

import hashlib  # noqa: E402

import lmdb  # noqa: E402


def tamper(store, change, db, number, offset=None):
    """Changes a kensho store behind kensho's back, as someone with write
    access to its files could: flips one bit of a record's value at
    `offset`, or deletes the record. `number` is the record's 8-octet
    big-endian key; the map size only needs to cover the test's small store."""
    env = lmdb.open(store, max_dbs=64, map_size=1 << 30)
    sub = env.open_db(db.encode(), create=False)
    key = int(number).to_bytes(8, "big")
    with env.begin(write=True, db=sub) as txn:
        if change == "delete":
            check(txn.delete(key), f"deleted {db} {number}")
        else:
            value = bytearray(txn.get(key))
            value[int(offset)] ^= 0x01
            txn.put(key, bytes(value))
    env.close()


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(index, size, leaf_hash, path):
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def consistent(first, second, first_root, second_root, path):
    """RFC 9162 §2.1.4.2."""
    if first == second:
        return not path and first_root == second_root
    if not path:
        return False
    if first & (first - 1) == 0:  # a power of two: the first root starts the path
        path = [first_root] + path
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node(c, fr)
            sr = node(c, sr)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def get_json(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    return r.status, json.loads(body) if body else None


def sth_bytes(sth):
    """The 50 signed octets (docs/log.md)."""
    return (b"\x00\x01" + sth["timestamp"].to_bytes(8, "big") + sth["tree_size"].to_bytes(8, "big")
            + base64.b64decode(sth["sha256_root_hash"]))


def openssl_verify_sth(sth, receipt_pem, workdir):
    pub = os.path.join(workdir, "receipt-pub.pem")
    run("openssl", "x509", "-in", receipt_pem, "-pubkey", "-noout", "-out", pub)
    data, sig = os.path.join(workdir, "sth.bin"), os.path.join(workdir, "sth.sig")
    with open(data, "wb") as f:
        f.write(sth_bytes(sth))
    with open(sig, "wb") as f:
        f.write(base64.b64decode(sth["tree_head_signature"]))
    r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature", sig, data],
                       capture_output=True, text=True)
    return r.returncode == 0 and "Verified OK" in r.stdout


def audit_verify(data):
    r = run(KENSHO, "audit", "verify", "--data", data, check=False)
    return r.returncode, r.stdout + r.stderr


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-log-") as tmp:
        person = os.path.join(tmp, "person")
        data = os.path.join(tmp, "data")
        with Server(data=data, args=allow_plain(tmp, "log.sth_interval = 1s\n")) as srv:
            issue(srv.data, person)  # an audit record: the log's first leaves
            cert, key = os.path.join(person, "sign.pem"), os.path.join(person, "sign.key")
            receipt_pem = os.path.join(srv.data, "ca/receipt.pem")
            conn = connect(srv.port)

            # three applications: each receipt names its leaf
            receipts = []
            for i in range(3):
                body = openssl_sign(tmp, cert, key, f"application {i}\n".encode())
                status, _, der = post(conn, "/v1/intake", body)
                check(status == 201, f"application {i} accepted")
                content = verify_receipt(der, receipt_pem, tmp)
                check(content["version"] == 2 and isinstance(content.get("log_index"), int),
                      f"receipt {content['receipt']} names its leaf ({content.get('log_index')})")
                receipts.append(content)
            indexes = [r["log_index"] for r in receipts]
            check(len(set(indexes)) == 3 and indexes == sorted(indexes), "leaves in order")

            # a signed tree head covering them, within a few intervals
            want = indexes[-1] + 1
            first_sth = {}

            def covered():
                status, sth = get_json(conn, "/v1/log/sth")
                if status == 200 and not first_sth:
                    first_sth.update(sth)
                return status == 200 and sth["tree_size"] >= want
            wait_for("a tree head covering the receipts", covered, timeout=30)
            _, sth = get_json(conn, "/v1/log/sth")
            check(openssl_verify_sth(sth, receipt_pem, tmp),
                  f"openssl dgst -verify accepts the tree head of {sth['tree_size']} leaves")
            forged = dict(sth, tree_size=sth["tree_size"] + 1)
            check(not openssl_verify_sth(forged, receipt_pem, tmp),
                  "and refuses it with another tree size")
            root = base64.b64decode(sth["sha256_root_hash"])
            status, by_size = get_json(conn, f"/v1/log/sth/{sth['tree_size']}")
            check(status == 200 and by_size == sth, "/v1/log/sth/{size} is the same head")

            for r in receipts:
                status, proof = get_json(
                    conn, f"/v1/log/proof/inclusion?index={r['log_index']}&size={sth['tree_size']}")
                check(status == 200, f"inclusion proof of leaf {r['log_index']}")
                got = root_from_inclusion(proof["leaf_index"], proof["tree_size"],
                                          base64.b64decode(proof["leaf_hash"]),
                                          [base64.b64decode(p) for p in proof["audit_path"]])
                check(got == root, f"leaf {r['log_index']}'s path leads to the signed root")

            # more leaves (a revocation is audited), a later head, consistency
            serial = run("openssl", "x509", "-in", os.path.join(person, "auth.pem"), "-noout",
                         "-serial").stdout.strip().split("=")[1]
            run(KENSHO, "--data", srv.data, "revoke", "--kind", "auth", "--serial", serial,
                "--reason", "keyCompromise")
            old = sth
            wait_for("a larger tree head", lambda: get_json(conn, "/v1/log/sth")[1]["tree_size"]
                     > old["tree_size"], timeout=30)
            _, new = get_json(conn, "/v1/log/sth")
            for a, b in ((old, new), (first_sth, new), (first_sth, old)):
                status, proof = get_json(conn, f"/v1/log/proof/consistency?first={a['tree_size']}"
                                         f"&second={b['tree_size']}")
                check(status == 200 and consistent(
                    a["tree_size"], b["tree_size"], base64.b64decode(a["sha256_root_hash"]),
                    base64.b64decode(b["sha256_root_hash"]),
                    [base64.b64decode(p) for p in proof["consistency"]]),
                    f"the tree of {a['tree_size']} is a prefix of the tree of {b['tree_size']}")

            # bad requests change nothing and say why
            for target, code in (("/v1/log/proof/inclusion?index=5&size=5", 400),
                                 ("/v1/log/proof/inclusion?index=0", 400),
                                 ("/v1/log/proof/inclusion?index=0&size=1&size=2", 400),
                                 ("/v1/log/proof/inclusion?index=-1&size=2", 400),
                                 ("/v1/log/proof/consistency?first=0&second=1", 400),
                                 ("/v1/log/proof/consistency?first=2&second=1", 400),
                                 ("/v1/log/proof/consistency?first=1&second=99999999", 400),
                                 ("/v1/log/sth/abc", 400),
                                 ("/v1/log/sth/1", 404)):
                status, answer = get_json(conn, target)
                check(status == code and answer.get("detail"), f"{target}: {code}")

        # the server has stopped: the store as it was left checks out
        code, out = audit_verify(srv.data)
        check(code == 0 and "log verified" in out, f"audit verify passes: {out.strip()}")

        store = os.path.join(srv.data, "store")
        cases = [
            ("an intake record's byte flipped", ["flip", "intake", "2", "20"],
             "intake record 2"),
            ("an audit record's byte flipped", ["flip", "audit", "1", "12"], "audit record 1"),
            ("an intake record deleted", ["delete", "intake", "1"], "intake record 1"),
            ("the last leaf and its record deleted",
             None, "beyond the log"),
            ("a tree head's signature changed", ["flip", "log_sth", str(new["tree_size"]), "60"],
             "signature"),
        ]
        for what, change, needle in cases:
            copy = os.path.join(tmp, "copy")
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(srv.data, copy)
            copy_store = os.path.join(copy, "store")
            if change is None:
                # the newest leaf and the record it logs
                last = new["tree_size"] - 1
                tamper(copy_store, "delete", "log_leaves", last)
                tamper(copy_store, "delete", "audit", count_audit(copy))
            else:
                tamper(copy_store, *change)
            code, out = audit_verify(copy)
            check(code == 1 and "MISMATCH" in out and needle in out,
                  f"audit verify catches {what}: {out.strip()}")
        check(os.path.isdir(store), "the original store was never touched")
        code, out = audit_verify(srv.data)
        check(code == 0, "and still verifies")


def count_audit(data):
    lines = run(KENSHO, "--data", data, "audit", "--json").stdout.splitlines()
    return len(lines)


if __name__ == "__main__":
    main()
