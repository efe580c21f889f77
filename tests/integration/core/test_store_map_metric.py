"""kensho_store_map_bytes follows the store's map as it grows: kenshod runs
with a small store.map_size, `kensho gen` fills the store well past it, and
the next scrape shows the grown map (it used to stay at its start value)."""
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import KENSHO, Server, check, run  # noqa: E402


def map_bytes(srv):
    status, _, body = srv.get("/metrics")
    assert status == 200, status
    values = re.findall(r"^kensho_store_map_bytes (\S+)$", body.decode(), re.M)
    assert len(values) == 1, values
    return float(values[0])


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-map-") as tmp:
        conf = os.path.join(tmp, "kenshod.conf")
        with open(conf, "w") as f:
            f.write("store.map_size = 1M\n")
        data = os.path.join(tmp, "data")
        with Server(data=data, args=["--no-access-log", "--workers", "2", "--config", conf]) as srv:
            before = map_bytes(srv)
            check(before > 0, f"the map size is shown at start ({before:.0f})")
            run(KENSHO, "--data", data, "gen", "--people", "3000", "--seed", "7", timeout=300)
            after = [map_bytes(srv) for _ in range(4)]
            check(all(a > before for a in after) and after == sorted(after),
                  f"after `kensho gen` grew the store every scrape shows a larger map "
                  f"({before:.0f} -> {after})")


if __name__ == "__main__":
    main()
