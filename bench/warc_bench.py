"""Time `archive ingest --warc FILE` against `warcio index FILE` over the same WARC, in one run.

    python bench/warc_bench.py [--pages 400] [--captures 5] [--runs 3]

The WARC is made here with warcio: --pages news-like HTML pages, each captured --captures
times (a paragraph edited between captures, so most captures are new versions), with a
request record per response, gzip per record as crawlers write it. `warcio index` parses
every record and its HTTP headers (the floor any WARC reader pays); the archive also hashes,
extracts text, diffs, packs passages and appends ledger leaves. Each side runs as a fresh
process, median of --runs; the archive starts from an empty file each time. Rates are
given per wall second and per CPU second (the CPU figure holds on a busy machine).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ROOT = Path(__file__).resolve().parent.parent
WORDS = (
    "the council said budget report minister court ruling water city police school health "
    "housing transport energy climate election vote party mayor officials residents plan"
).split()


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of a command and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def paragraph(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 90))).capitalize() + "."


def make_warc(path: Path, pages: int, captures: int, seed: int = 7) -> int:
    """A crawl of `pages` URLs captured `captures` times; returns the record count."""
    rng = random.Random(seed)
    bodies = [[paragraph(rng) for _ in range(12)] for _ in range(pages)]
    records = 0
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for round_ in range(captures):
            date = f"2024-05-{round_ + 1:02d}T10:00:00Z"
            for n, paras in enumerate(bodies):
                if round_:
                    paras[rng.randrange(len(paras))] = paragraph(rng)
                title = f"Story {n}"
                body = "".join(f"<p>{p}</p>" for p in paras)
                html = f"<html><head><title>{title}</title></head><body><article>"
                html += f"<h1>{title}</h1>{body}</article></body></html>"
                uri = f"https://news.example.org/story/{n}"
                http = StatusAndHeaders(
                    "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
                )
                data = html.encode()
                response = writer.create_warc_record(
                    uri,
                    "response",
                    payload=BytesIO(data),
                    length=len(data),
                    http_headers=http,
                    warc_headers_dict={"WARC-Date": date},
                )
                request = writer.create_warc_record(
                    uri,
                    "request",
                    http_headers=StatusAndHeaders(
                        f"GET /story/{n}", [("Host", "news.example.org")], protocol="HTTP/1.1"
                    ),
                    warc_headers_dict={"WARC-Date": date},
                )
                writer.write_request_response_pair(request, response)
                records += 2
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--captures", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        warc = Path(tmp) / "crawl.warc.gz"
        records = make_warc(warc, args.pages, args.captures)
        megabytes = os.path.getsize(warc) / 1e6
        warcio_bin = str(Path(sys.executable).with_name("warcio"))
        peer = [timed([warcio_bin, "index", str(warc)]) for _ in range(args.runs)]
        ours = []
        for i in range(args.runs):
            db = Path(tmp) / f"archive-{i}.db"
            cmd = [sys.executable, "-m", "archive", "ingest", "--warc", str(warc), "--db", str(db)]
            ours.append(timed(cmd))
        print(f"WARC: {records} records ({args.pages} pages x {args.captures} captures, with")
        print(f"      requests), {megabytes:.1f} MB gzipped; median of {args.runs} runs")
        for name, times in (("warcio index", peer), ("archive ingest --warc", ours)):
            wall = statistics.median(t[0] for t in times)
            cpu = statistics.median(t[1] for t in times)
            print(
                f"{name:<22} {wall:7.2f} s wall {cpu:7.2f} s CPU  "
                f"{records / wall:7.0f} records/s {megabytes / wall:6.2f} MB/s (wall)  "
                f"{records / cpu:7.0f} records/s {megabytes / cpu:6.2f} MB/s (CPU)"
            )


if __name__ == "__main__":
    main()
