"""The access log: one line of valid JSON (UTF-8) per request whatever bytes
the client sent, with the HTTP version as "1.1"/"1.0", the user agent, a
request id that is also sent back as X-Request-Id (or taken from a
well-formed incoming one), and on mutual TLS the client certificate's
subject and SPKI SHA-256."""
import hashlib
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Server, check  # noqa: E402


def exchange(port, raw):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


def header(response, name):
    m = re.search(rb"\r\n" + name.encode() + rb": ([^\r]*)\r\n", response, re.I)
    return m.group(1).decode() if m else None


def access_lines(srv, expect):
    """Every access-log line so far (stdout lines starting with '{'), each
    decoded as strict UTF-8 and parsed as JSON; waits for `expect` lines."""
    deadline = time.monotonic() + 10
    while True:
        with open(srv.log_path, "rb") as f:
            raw = [line for line in f.read().split(b"\n") if line.startswith(b"{")]
        if len(raw) >= expect or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    out = []
    for line in raw:
        try:
            out.append(json.loads(line.decode("utf-8")))
        except (UnicodeDecodeError, ValueError) as e:
            raise AssertionError(f"access-log line is not valid JSON: {line!r}: {e}")
    return out


def spki_sha256(cert_pem):
    pub = subprocess.run(["openssl", "x509", "-in", cert_pem, "-pubkey", "-noout"],
                         check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         check=True, capture_output=True).stdout
    return hashlib.sha256(der).hexdigest()


def tls_get(ctx, port, user_agent):
    """One GET /healthz over TLS with ctx; the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                      b"User-Agent: " + user_agent.encode() + b"\r\n\r\n")
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
    return answer


def main():
    srv = Server(tls=True).start()
    try:
        p = srv.port
        requests = [
            # raw bytes in the path and the user agent; HTTP/1.0
            b"GET /\xff\xfe\x80/x HTTP/1.0\r\nUser-Agent: probe \xc3\x28 \xed\xa0\x80 \xe6\xa4\x9c\r\n\r\n",
            # a well-formed id is kept; escapes in the UA
            b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Request-Id: lb-42.abc\r\n"
            b"User-Agent: \"quoted\" \\ back\tslash\r\n\r\n",
            # an id with characters outside the set is replaced by a new one
            b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Request-Id: a b\r\n\r\n",
            # refused by the core: no Host
            b"GET /healthz HTTP/1.1\r\nUser-Agent: nohost\r\n\r\n",
        ]
        answers = [exchange(p, r) for r in requests]
        ids = [header(a, "X-Request-Id") for a in answers]
        check(all(ids), f"every response carries X-Request-Id {ids}")
        check(ids[1] == "lb-42.abc", "a well-formed incoming X-Request-Id is used")
        check(ids[2] != "a b" and re.fullmatch(r"[0-9a-f]{12}-[0-9a-f]+", ids[2]),
              f"a malformed one is replaced by a new id ({ids[2]})")
        check(len(set(ids)) == len(ids), "ids are distinct")

        tls_dir = os.path.join(srv.data, "tls")
        ctx = ssl.create_default_context(cafile=f"{tls_dir}/ca.pem")
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(f"{tls_dir}/clients/operator.pem", f"{tls_dir}/clients/operator.key")
        tls_answer = tls_get(ctx, srv.tls_port, "tls-client")
        check(tls_answer.startswith(b"HTTP/1.1 200"), "TLS request answered")

        # A client certificate whose subject is Japanese, from the demo TLS
        # CA: the log carries its subject as exact UTF-8.
        utf8_cert = os.path.join(srv.data, "utf8-client")
        subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-utf8", "-subj",
                        "/C=JP/O=検証銀行/CN=山田　花子", "-keyout", utf8_cert + ".key",
                        "-out", utf8_cert + ".csr"], check=True, capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-in", utf8_cert + ".csr", "-CA",
                        f"{tls_dir}/ca.pem", "-CAkey", f"{tls_dir}/ca.key", "-days", "1",
                        "-set_serial", "4660", "-out", utf8_cert + ".pem"],
                       check=True, capture_output=True)
        ctx = ssl.create_default_context(cafile=f"{tls_dir}/ca.pem")
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(utf8_cert + ".pem", utf8_cert + ".key")
        check(tls_get(ctx, srv.tls_port, "utf8-client").startswith(b"HTTP/1.1 200"),
              "TLS request with a Japanese client subject answered")

        lines = access_lines(srv, 6)
        check(len(lines) >= 6, f"six access-log lines, every one valid JSON ({len(lines)})")
        utf8_line = [line for line in lines if line["ua"] == "utf8-client"]
        check(len(utf8_line) == 1 and utf8_line[0].get("client_subject") ==
              "C=JP, O=検証銀行, CN=山田　花子",
              f"a UTF-8 client subject is logged exactly ({utf8_line})")
        by_id = {line["id"]: line for line in lines}
        first = by_id[ids[0]]
        check(first["http"] == "1.0" and "\ufffd" in first["path"] and "\ufffd" in first["ua"]
              and "\u691c" in first["ua"],
              f"raw bytes are replaced, valid UTF-8 kept, version 1.0: {first}")
        second = by_id["lb-42.abc"]
        check(second["http"] == "1.1" and second["ua"] == "\"quoted\" \\ back\tslash",
              f"version 1.1 and the user agent, escaped: {second}")
        check(by_id[ids[2]]["ua"] is None, "no User-Agent: null")
        refused = by_id[ids[3]]
        check(refused["status"] == 400, f"a refused request is logged with its id: {refused}")
        tls_line = [line for line in lines if line.get("tls") and line["ua"] == "tls-client"]
        check(len(tls_line) == 1, "the TLS request is logged")
        tls_line = tls_line[0]
        want = spki_sha256(f"{tls_dir}/clients/operator.pem")
        check(tls_line.get("client_spki_sha256") == want and tls_line.get("client_subject"),
              f"mutual TLS: client subject and SPKI SHA-256 ({tls_line})")
        check(all("client_subject" not in line for line in lines if not line["tls"]),
              "plain requests carry no client identity")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
