"""Word diffs: the engine (compiled core or pure reference), stored deltas, rendering."""

from archive.diffs.algorithm import diff_texts
from archive.diffs.core import (
    ALGORITHM,
    ANCHOR_BUDGET_FACTOR,
    DELETE,
    EQUAL,
    INSERT,
    LINE_WORK_LIMIT,
    MIN_SHARED_WORDS,
    MYERS_STEPS,
    MYERS_STEPS_PER_CHAR,
    SMALL_GAP_WORK,
    DiffResult,
    Op,
    compiled,
    engine,
    engine_name,
)
from archive.diffs.delta import compact_ops, expand_ops, from_delta, rebuild
from archive.diffs.stats import classify
from archive.diffs.tokens import TOKEN_RE, WORD_RE, tokens, words

__all__ = [
    "ALGORITHM",
    "ANCHOR_BUDGET_FACTOR",
    "DELETE",
    "EQUAL",
    "INSERT",
    "LINE_WORK_LIMIT",
    "MIN_SHARED_WORDS",
    "MYERS_STEPS",
    "MYERS_STEPS_PER_CHAR",
    "SMALL_GAP_WORK",
    "TOKEN_RE",
    "WORD_RE",
    "DiffResult",
    "Op",
    "classify",
    "compact_ops",
    "compiled",
    "diff_texts",
    "engine",
    "engine_name",
    "expand_ops",
    "from_delta",
    "rebuild",
    "tokens",
    "words",
]
