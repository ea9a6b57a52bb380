"""The metadata extractor alone: CPU seconds per extractor over every content of a git history.

    python bench/extract_bench.py [BUNDLE] [--runs 3] [--root DIR]

BUNDLE (default samples/terms-sample.bundle) is cloned bare and every blob of its history read
with git plumbing (`rev-list --objects`, `cat-file --batch`), at the path it is first seen at.
Each content's extract() input is computed once, as the import does (describe, readable text),
then each run is a fresh process (cold line caches, as an import worker or `archive verify`
starts) that calls extract() on every content: "total" is that loop's CPU seconds, "import"
the CPU of importing ingest.extract. A second fresh process per run times each extractor
(EXTRACTORS wrapped with a CPU clock); "other" is what extract() spends outside them
(context, cleaning, numbering). Before either loop the language model is loaded, once per
process as any run does (importing numpy, decompressing the model): "model load", and "with
load" the total of a process that pays it. extract() is given the text's passages where
`prepare_content` gives them (decoded text; not the readable text of HTML, PDF, DOCX), when
the checkout's extract() takes them. A third fresh process per run times `prepare_content`
itself over every content ("prepare_content": description, passage split, quotations,
extraction: the per-content work of an import's workers). Medians of --runs. CPU seconds
(time.process_time), not wall: the machine is shared.

--root DIR runs another checkout of the code (e.g. `git archive HEAD | tar -x -C DIR`) as
"before", alternating with this one ("after"), and checks that both give the same extraction
for every content: prints "outputs: identical" (exit 1 when they differ).
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GIT_ENV = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}


def history_blobs(bundle: Path, tmp: Path) -> list[tuple[str, bytes]]:
    """(path, bytes) of every blob of the bundle's history, in `rev-list --objects` order."""
    git_dir = tmp / "repo.git"
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(bundle), str(git_dir)], check=True, env=GIT_ENV
    )
    git = ["git", "--git-dir", str(git_dir)]
    listing = subprocess.run(
        [*git, "rev-list", "--objects", "--all"], check=True, capture_output=True, env=GIT_ENV
    ).stdout.decode()
    paths = {}
    for line in listing.splitlines():
        oid, _, path = line.partition(" ")
        if path:
            paths.setdefault(oid, path)
    batch = subprocess.run(
        [*git, "cat-file", "--batch"],
        input="".join(f"{oid}\n" for oid in paths).encode(),
        check=True,
        capture_output=True,
        env=GIT_ENV,
    ).stdout
    out, pos = [], 0
    for path in paths.values():
        end = batch.index(b"\n", pos)
        _oid, kind, size = batch[pos:end].decode().split()
        data = batch[end + 1 : end + 1 + int(size)]
        pos = end + 1 + int(size) + 1
        if kind == "blob":
            out.append((path, data))
    return out


def inputs(blobs: list[tuple[str, bytes]]) -> list[dict]:
    """extract()'s keyword arguments per content, as `prepare_content` computes them."""
    sys.path.insert(0, str(ROOT))
    from archive.record.metadata import readable
    from archive.store.passage_format import split_passages
    from ingest.content import describe

    out = []
    for path, data in blobs:
        info, decoded = describe(path, data)
        text, _problems = readable(data, info.media_type)
        passages = None
        if text is None and decoded.is_text:
            text = decoded.text
            passages = split_passages(text)  # as prepare_content splits it
        out.append(
            {
                "text": text,
                "passages": passages,
                "media_type": info.media_type,
                "path": path,
                "encoding": info.encoding,
                "data": data,
            }
        )
    return out


def child(root: str, inputs_file: str, mode: str) -> None:
    """One run in a fresh process: print JSON timings (and output hashes in mode "total")."""
    sys.path.insert(0, root)
    with open(inputs_file, "rb") as f:
        contents = pickle.load(f)
    start = time.process_time()
    import ingest.extract as extractor

    imported = time.process_time() - start
    start = time.process_time()
    import py3langid  # the language model: loaded once per process (numpy, lzma, arrays)

    py3langid.classify("")
    model = time.process_time() - start
    per: dict[str, float] = {}
    if mode == "split":
        clock = time.process_time

        def timed(name, fn):
            def run(text, ctx):
                t = clock()
                try:
                    return fn(text, ctx)
                finally:
                    per[name] = per.get(name, 0.0) + clock() - t

            return run

        extractor.EXTRACTORS = tuple((n, timed(n, fn)) for n, fn in extractor.EXTRACTORS)
    if "passages" not in inspect.signature(extractor.extract).parameters:
        for c in contents:  # a checkout from before extraction took passages
            del c["passages"]
    hashes = []
    if mode == "prepare":
        from archive.record.metadata import prepare_content

        start = time.process_time()
        results = [prepare_content(c["path"], c["data"]) for c in contents]
        total = time.process_time() - start
        print(json.dumps({"import": imported, "model": model, "total": total, "per": per}))
        return
    start = time.process_time()
    results = [extractor.extract(c.pop("text"), **c) for c in contents]
    total = time.process_time() - start
    if mode == "total":
        for r in results:
            blob = repr((r.fields, r.items, r.problems)).encode("utf-8", "surrogatepass")
            hashes.append(hashlib.sha256(blob).hexdigest())
    out = {"import": imported, "model": model, "total": total, "per": per, "hashes": hashes}
    print(json.dumps(out))


def run_child(root: Path, inputs_file: Path, mode: str) -> dict:
    cmd = [sys.executable, __file__, "--child", str(root), str(inputs_file), mode]
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root)
    if proc.returncode:
        sys.exit(f"{root}: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout)


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(*sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "bundle", type=Path, nargs="?", default=ROOT / "samples" / "terms-sample.bundle"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--root", type=Path, help="Another checkout, timed as 'before'.")
    args = parser.parse_args()
    roots = {"after": ROOT}
    if args.root:
        roots = {"before": args.root.resolve(), "after": ROOT}
    with tempfile.TemporaryDirectory() as tmp:
        contents = inputs(history_blobs(args.bundle.resolve(), Path(tmp)))
        chars = sum(len(c["text"] or "") for c in contents)
        print(f"{len(contents)} contents, {chars:,} characters of text")
        inputs_file = Path(tmp) / "inputs.pickle"
        inputs_file.write_bytes(pickle.dumps(contents))
        modes = ("total", "split", "prepare")
        runs: dict[str, dict[str, list[dict]]] = {n: {m: [] for m in modes} for n in roots}
        for _ in range(args.runs):
            for name, root in roots.items():  # alternating, so load changes hit both
                for mode in modes:
                    runs[name][mode].append(run_child(root, inputs_file, mode))
    report(runs, [c["path"] for c in contents])


def report(runs: dict[str, dict[str, list[dict]]], paths: list[str]) -> None:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    names = list(runs)
    table: dict[str, dict[str, float]] = {}
    for name in names:
        split = runs[name]["split"]
        per = {k: med([r["per"].get(k, 0.0) for r in split]) for k in split[0]["per"]}
        per["other"] = med([r["total"] - sum(r["per"].values()) for r in split])
        totals = runs[name]["total"]
        per["total"] = med([r["total"] for r in totals])
        per["model load"] = med([r["model"] for r in totals])
        per["with load"] = med([r["total"] + r["model"] for r in totals])
        per["import"] = med([r["import"] for r in totals])
        per["prepare_content"] = med([r["total"] for r in runs[name]["prepare"]])
        table[name] = per
    keys = list(dict.fromkeys(k for n in names for k in table[n]))
    print(f"CPU seconds, median of {len(runs[names[0]]['total'])} fresh processes")
    ratio_head = "   ratio" if len(names) > 1 else ""
    print(f"{'extractor':<14}" + "".join(f"{n:>10}" for n in names) + ratio_head)
    for key in keys:
        values = [table[n].get(key, 0.0) for n in names]
        ratio = f"{values[0] / values[1]:>7.1f}x" if len(names) > 1 and values[1] > 0 else ""
        print(f"{key:<14}" + "".join(f"{v:>10.3f}" for v in values) + ratio)
    if len(names) < 2:
        return
    hashes = [runs[n]["total"][0]["hashes"] for n in names]
    differing = [p for p, a, b in zip(paths, *hashes, strict=True) if a != b]
    if differing:
        print(f"outputs: {len(differing)} contents differ, first: {differing[0]!r}")
        sys.exit(1)
    print("outputs: identical")


if __name__ == "__main__":
    main()
