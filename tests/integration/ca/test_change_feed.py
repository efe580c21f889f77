"""GET /v1/changes, the relying parties' change feed, against a store with a
generated population and three people whose lives change through `kensho
event` (a move, a death, a renewal) while kenshod runs:

- paging with limit=2 from after=0 gives the same changes as one page of
  1000, cursors strictly increasing, every page within its limit;
- each event appears with the rule's reasons (move: the signing certificate
  only, affiliationChanged; death: both, cessationOfOperation; renewal:
  both superseded; each certificate a move or a renewal issued in place of
  another gives one `linked` entry naming the new serial `kensho event`
  printed); no issuance, no link told twice;
- every revoked entry agrees with /v1/certs/... (reason, revoked_at);
- nothing of the person (name, address) is in the feed;
- after=last is an empty page with more false; bad queries are 400s."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import KENSHO, Server, check, run  # noqa: E402


def kensho(data, *args):
    r = run(KENSHO, "--data", data, *args, check=False)
    if r.returncode != 0:
        raise AssertionError(f"kensho {' '.join(args)}: exit {r.returncode}: {r.stdout}{r.stderr}")
    return r.stdout


def serials(printed):
    """{kind: serial hex} from the lines `sign HEX` / `auth HEX` kensho prints."""
    out = {}
    for line in printed.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("sign", "auth"):
            out[parts[0]] = parts[1].lower()
    return out


def page(server, query):
    status, _, body = server.get("/v1/changes?" + query)
    return status, json.loads(body)


with tempfile.TemporaryDirectory(prefix="kensho-feed-") as tmp:
    data = os.path.join(tmp, "data")
    kensho(data, "ca", "init")
    kensho(data, "gen", "--people", "40", "--revoked", "0.2", "--seed", "3")
    people = {}
    for who, name, address in (("mover", "移転　一郎", "東京都千代田区霞が関1-1"),
                               ("dead", "故人　二郎", "大阪府大阪市北区梅田1-1"),
                               ("renewer", "更新　三郎", "北海道札幌市中央区北1条西2")):
        out = os.path.join(tmp, who)
        people[who] = serials(kensho(data, "issue", "--name", name, "--birth", "1970-05-05", "--sex", "1",
                                     "--address", address, "--out", out))
        check(set(people[who]) == {"sign", "auth"}, f"{who}: both certificates issued")

    with Server(data=data) as server:
        status, first = page(server, "after=0&limit=1000")
        check(status == 200, "the feed answers after=0")
        before = first["last"]

        moved = serials(kensho(data, "event", "--serial", people["mover"]["sign"], "--kind", "sign", "move",
                               "--address", "東京都清瀬市中里1-1", "--out", os.path.join(tmp, "mover2")))
        check(set(moved) == {"sign"}, "the move with a new address printed the new signing serial")
        kensho(data, "event", "--serial", people["dead"]["sign"], "--kind", "sign", "death")
        renewed = serials(kensho(data, "event", "--serial", people["renewer"]["sign"], "--kind", "sign",
                                 "renew", "--out", os.path.join(tmp, "renewer2")))
        check(set(renewed) == {"sign", "auth"}, "the renewal printed both new serials")

        status, whole = page(server, "after=0&limit=1000")
        check(status == 200 and not whole["more"] and whole["next"] == whole["last"] > before,
              f"one page holds the whole feed and the log grew ({before} -> {whole['last']})")
        paged, after, pages = [], 0, 0
        while True:
            status, p = page(server, f"after={after}&limit=2")
            assert status == 200, p
            assert len(p["changes"]) <= 2, p
            assert p["next"] >= after and (p["next"] > after or not p["more"]), p
            paged += p["changes"]
            after, pages = p["next"], pages + 1
            if not p["more"]:
                break
            assert pages < 1000, "the feed never ended"
        check(paged == whole["changes"], f"{pages} pages of 2 give the same {len(paged)} changes as one page")
        cursors = [c["cursor"] for c in paged]
        check(cursors == sorted(set(cursors)), "cursors strictly increase")
        check({c["type"] for c in paged} == {"revoked", "linked"}, "only revocations and links are told")
        keys = {"revoked": {"cursor", "time", "type", "kind", "serial", "revoked_at", "reason"},
                "linked": {"cursor", "time", "type", "kind", "serial", "replaced_by"}}
        check(all(set(c) == keys[c["type"]] for c in paged), "every entry has exactly its documented fields")
        text = json.dumps(paged, ensure_ascii=False)
        check(not any(s in text for s in ("移転", "故人", "更新", "東京都", "大阪府", "北海道")),
              "no name or address is in the feed")

        revoked = {(c["kind"], c["serial"]): c for c in paged if c["type"] == "revoked"}
        linked = [(c["kind"], c["serial"], c["replaced_by"]) for c in paged if c["type"] == "linked"]

        def reason(kind, who):
            entry = revoked.get((kind, people[who][kind]))
            return entry and entry["reason"]

        check(reason("sign", "mover") == "affiliationChanged" and reason("auth", "mover") is None,
              "a move revokes the signing certificate only (affiliationChanged)")
        check(reason("sign", "dead") == reason("auth", "dead") == "cessationOfOperation",
              "a death revokes both (cessationOfOperation)")
        check(reason("sign", "renewer") == reason("auth", "renewer") == "superseded",
              "a renewal supersedes both")
        want = [(k, people["renewer"][k], renewed[k]) for k in ("sign", "auth")]
        want.append(("sign", people["mover"]["sign"], moved["sign"]))
        check(sorted(linked) == sorted(want),
              f"the renewal (per kind) and the move's new signing certificate are each told once, "
              f"old -> new ({linked})")
        generated = [c for c in paged if c["cursor"] <= before and c["type"] == "revoked"]
        check(generated, f"the generated population's revocations are in the feed ({len(generated)})")
        for (kind, serial), c in revoked.items():
            status, _, body = server.get(f"/v1/certs/{kind}/{serial}")
            cert = json.loads(body)
            assert status == 200 and cert["status"] == "revoked", (kind, serial, cert)
            assert cert["reason"] == c["reason"] and cert["revoked_at"] == c["revoked_at"], (c, cert)
        check(True, f"all {len(revoked)} revoked entries agree with /v1/certs")

        status, end = page(server, f"after={whole['last']}")
        check(status == 200 and end["changes"] == [] and not end["more"] and end["next"] == whole["last"],
              "after=last: an empty page, more false")
        for query, what in (("", "no after"), ("after=x", "a cursor that is not a number"),
                            ("after=0&limit=0", "limit 0"), ("after=0&limit=1001", "limit over 1000"),
                            ("after=0&since=1", "an unknown parameter"), ("after=0&after=1", "after twice"),
                            ("after=0&", "a trailing &"),
                            (f"after={whole['last'] + 1}", "a cursor beyond the log")):
            status, body = page(server, query)
            check(status == 400 and body["error"] == "bad_request" and body["detail"],
                  f"{what}: 400 ({body.get('detail')})")
