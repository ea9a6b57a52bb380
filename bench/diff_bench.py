"""Benchmark archive.diffs.diff_texts against git word-diff and difflib on word tokens.

Run: .venv/bin/python bench/diff_bench.py   (fixed seed; prints a table of medians in seconds)

"ours" is the default engine (the compiled core when built); "pure" the pure-Python reference
(what ARCHIVE_PURE_DIFF=1 selects) on the same case, with the ratio pure/ours.
"""

from __future__ import annotations

import difflib
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive import diffs  # noqa: E402
from archive.diffs import TOKEN_RE, diff_texts  # noqa: E402

SEED = 20241021
SYLLABLES = "ka ri to me sa lo ven dar is on el tra mu pe gri ast ul fen bo ach".split()
TARGET_SECONDS = 1.0
TARGET_RATIO = 20.0


def _vocab(rng: random.Random, size: int = 3000) -> list[str]:
    words = {"".join(rng.choices(SYLLABLES, k=rng.randint(1, 4))) for _ in range(size * 2)}
    common = ["the", "of", "and", "to", "a", "in", "is", "that", "for", "it", "as", "was"]
    return common * 40 + sorted(words)[:size]


def _paragraph(rng: random.Random, vocab: list[str]) -> str:
    sentences = []
    for _ in range(rng.randint(3, 7)):
        words = rng.choices(vocab, k=rng.randint(6, 20))
        words[0] = words[0].capitalize()
        sentences.append(" ".join(words) + rng.choice(".......?!"))
    return " ".join(sentences)


def make_text(rng: random.Random, size: int, vocab: list[str]) -> str:
    """Paragraphs (one per line) separated by blank lines, about ``size`` chars."""
    paras: list[str] = []
    total = 0
    while total < size:
        p = _paragraph(rng, vocab)
        paras.append(p)
        total += len(p) + 2
    return "\n\n".join(paras) + "\n"


def edit(rng: random.Random, text: str, n_edits: int, vocab: list[str]) -> str:
    """Scatter word-level inserts, deletes and replacements."""
    words = text.split(" ")
    for _ in range(n_edits):
        i = rng.randrange(len(words))
        kind = rng.choice(["ins", "del", "rep"])
        if kind == "ins":
            words.insert(i, rng.choice(vocab))
        elif kind == "del" and len(words) > 1:
            del words[i]
        else:
            words[i] = rng.choice(vocab)
    return " ".join(words)


def cases() -> list[tuple[str, str, str]]:
    rng = random.Random(SEED)
    vocab = _vocab(rng)
    out = []
    for name, size, n in [("5KB 5 edits", 5_000, 5), ("500KB 50 edits", 500_000, 50)]:
        old = make_text(rng, size, vocab)
        out.append((name, old, edit(rng, old, n, vocab)))
    old = make_text(rng, 5_000_000, vocab)
    out.append(("5MB 200 edits", old, edit(rng, old, 200, vocab)))
    out.append(("50KB unrelated", make_text(rng, 50_000, vocab), make_text(rng, 50_000, vocab)))
    old = make_text(rng, 200_000, vocab)
    paras = old.rstrip("\n").split("\n\n")
    rng.shuffle(paras)
    out.append(("200KB shuffled paras", old, "\n\n".join(paras) + "\n"))
    return out


def _time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run_git(tmp: Path, old: str, new: str) -> None:
    subprocess.run(
        ["git", "diff", "--no-index", "--word-diff=porcelain", str(tmp / "a"), str(tmp / "b")],
        stdout=subprocess.DEVNULL,
        check=False,
    )


def run_difflib(old: str, new: str) -> None:
    a, b = TOKEN_RE.findall(old), TOKEN_RE.findall(new)
    difflib.SequenceMatcher(None, a, b).get_opcodes()


def main() -> int:
    git = shutil.which("git")
    difflib_cap = 150_000  # chars (old+new); difflib is quadratic on unrelated text
    rows = []
    ok = True
    for name, old, new in cases():
        big = len(old) > 1_000_000
        ours = _time(lambda o=old, n=new: diff_texts(o, n), 3 if big else 5)
        with diffs.engine(None):
            pure = _time(lambda o=old, n=new: diff_texts(o, n), 1 if big else 3)
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            (tmp / "a").write_text(old, encoding="utf-8")
            (tmp / "b").write_text(new, encoding="utf-8")
            g = _time(lambda t=tmp, o=old, n=new: run_git(t, o, n), 5) if git else None
        if len(old) + len(new) <= difflib_cap:
            dl = f"{_time(lambda o=old, n=new: run_difflib(o, n), 1 if big else 3):.3f}"
        else:
            dl = f"> cap ({difflib_cap // 1000}KB)"
        ratio = ours / g if g else float("nan")
        coarse = diff_texts(old, new).coarse
        ok = ok and ours < TARGET_SECONDS and (g is None or ratio <= TARGET_RATIO)
        gs = f"{g:.3f}" if g is not None else "n/a"
        rows.append(
            (
                name,
                f"{ours:.3f}",
                f"{pure:.3f}",
                f"{pure / ours:.1f}x",
                gs,
                dl,
                f"{ratio:.1f}x",
                "yes" if coarse else "no",
            )
        )
    header = ("case", "ours s", "pure s", "pure/ours", "git s", "difflib s", "ours/git", "coarse")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    print("target met" if ok else "TARGET MISSED (every case < 1 s and <= 20x git)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
