/* _diffcore: the hot loops of archive/diffs/*.py in C, with results identical to the character.
 *
 * Why: the word diff was most of an import's cost; this module runs the same algorithm
 * (archive/diffs/*.py stays the reference, selected by ARCHIVE_PURE_DIFF=1 or when this module
 * is missing) without Python objects in the inner loops. It covers diffs._diff_ops (lines
 * split and anchored, blocks tokenized and anchored, the step-bounded Myers of _TokenDmp,
 * dmp's cleanupMerge and _TokenDmp's cleanupSemantic), the tokenizer and word counts that
 * stats and classify use, classify itself, and dmp's delta writer and reader (lengths in
 * UTF-16 units, as the pinned dmp release counts them).
 *
 * How it stays identical: every op list here is a *valid diff* of two symbol arrays (the
 * texts of EQUAL/DELETE ops concatenate to the old side, EQUAL/INSERT to the new side), and
 * every transformation dmp and diffs.py apply keeps that true. So an op is stored as
 * (kind, length) and its text is implied by its position: EQUAL/DELETE text is old[pa:pa+n],
 * INSERT text is new[pb:pb+n], where (pa, pb) is the sum of the earlier ops' lengths. The
 * code below follows the Python step for step (same scans, same tie-breaks, same step
 * budget); only string building is replaced by position arithmetic. Symbols are token or
 * line ids, so only their equality matters, as with the Python placeholder characters.
 * tests/test_diffcore.py holds the two engines to the same output.
 *
 * Safety: texts are copied to UCS4 arrays (any PyUnicode kind); every allocation is checked
 * and freed on all paths; string searches are linear (KMP) and the symbol tables switch to
 * SipHash on a suspiciously long probe, so hostile text cannot make them quadratic; Python
 * index semantics are kept where a negative index could in principle occur (the Myers
 * snakes), so no out-of-bounds read is possible even on inputs the Python never sees.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <wchar.h>

/* Bump when the algorithm here changes; archive/diffs/*.py refuses a core of another version. */
#define CORE_VERSION 1

#define OP_DEL (-1)
#define OP_EQ 0
#define OP_INS 1

typedef Py_UCS4 sym_t; /* a code point, a token id or a line id */

/* ------------------------------------------------------------------------------------------ */
/* Memory                                                                                     */

static void *
grow(void *p, Py_ssize_t n, size_t size)
{
    if (n < 0 || (size_t)n > (size_t)PY_SSIZE_T_MAX / size) {
        PyErr_NoMemory();
        return NULL;
    }
    void *q = PyMem_Realloc(p, n ? (size_t)n * size : 1);
    if (q == NULL)
        PyErr_NoMemory();
    return q;
}

/* Capacity at least need, doubling from cap. */
static Py_ssize_t
next_cap(Py_ssize_t cap, Py_ssize_t need)
{
    if (cap < 16)
        cap = 16;
    while (cap < need) {
        if (cap > PY_SSIZE_T_MAX / 2)
            return need;
        cap *= 2;
    }
    return cap;
}

/* ------------------------------------------------------------------------------------------ */
/* Op vectors with lazily computed positions                                                  */

typedef struct {
    int op;
    Py_ssize_t n;
} Op;

/* pa[i], pb[i]: where op i starts in the old / new symbol array, correct for i <= valid. */
typedef struct {
    Op *v;
    Py_ssize_t *pa, *pb;
    Py_ssize_t n, cap, valid;
} OpVec;

static void
ov_free(OpVec *o)
{
    PyMem_Free(o->v);
    PyMem_Free(o->pa);
    PyMem_Free(o->pb);
    memset(o, 0, sizeof(*o));
}

static int
ov_reserve(OpVec *o, Py_ssize_t need)
{
    if (o->pa != NULL && need <= o->cap)
        return 0;
    Py_ssize_t cap = next_cap(o->cap, need);
    Op *v = grow(o->v, cap, sizeof(Op));
    if (v == NULL)
        return -1;
    o->v = v;
    Py_ssize_t *pa = grow(o->pa, cap + 1, sizeof(Py_ssize_t));
    if (pa == NULL)
        return -1;
    o->pa = pa;
    Py_ssize_t *pb = grow(o->pb, cap + 1, sizeof(Py_ssize_t));
    if (pb == NULL)
        return -1;
    o->pb = pb;
    o->cap = cap;
    o->pa[0] = o->pb[0] = 0;
    return 0;
}

static void
ov_clear(OpVec *o)
{
    o->n = 0;
    o->valid = 0;
}

static void
ov_touch(OpVec *o, Py_ssize_t i)
{
    /* op i changed (or was inserted/deleted): later starts may have moved, its own has not */
    if (o->valid > i)
        o->valid = i;
}

static int
ov_push(OpVec *o, int op, Py_ssize_t n)
{
    if (ov_reserve(o, o->n + 1) < 0)
        return -1;
    o->v[o->n].op = op;
    o->v[o->n].n = n;
    o->n++;
    return 0;
}

static int
ov_insert(OpVec *o, Py_ssize_t i, int op, Py_ssize_t n)
{
    if (ov_reserve(o, o->n + 1) < 0)
        return -1;
    memmove(&o->v[i + 1], &o->v[i], (size_t)(o->n - i) * sizeof(Op));
    o->v[i].op = op;
    o->v[i].n = n;
    o->n++;
    ov_touch(o, i);
    return 0;
}

static void
ov_delete(OpVec *o, Py_ssize_t i)
{
    memmove(&o->v[i], &o->v[i + 1], (size_t)(o->n - i - 1) * sizeof(Op));
    o->n--;
    ov_touch(o, i);
}

static void
ov_set(OpVec *o, Py_ssize_t i, int op, Py_ssize_t n)
{
    o->v[i].op = op;
    o->v[i].n = n;
    ov_touch(o, i);
}

/* Replace count ops at i by k ops (k <= 2). */
static int
ov_replace(OpVec *o, Py_ssize_t i, Py_ssize_t count, const Op *ops, Py_ssize_t k)
{
    if (k > count && ov_reserve(o, o->n + k - count) < 0)
        return -1;
    memmove(&o->v[i + k], &o->v[i + count], (size_t)(o->n - i - count) * sizeof(Op));
    for (Py_ssize_t j = 0; j < k; j++)
        o->v[i + j] = ops[j];
    o->n += k - count;
    ov_touch(o, i);
    return 0;
}

static void
ov_pos(OpVec *o, Py_ssize_t i, Py_ssize_t *a, Py_ssize_t *b)
{
    Py_ssize_t k = o->valid;
    while (k < i) {
        const Op *e = &o->v[k];
        o->pa[k + 1] = o->pa[k] + (e->op != OP_INS ? e->n : 0);
        o->pb[k + 1] = o->pb[k] + (e->op != OP_DEL ? e->n : 0);
        k++;
    }
    if (k > o->valid)
        o->valid = k;
    *a = o->pa[i];
    *b = o->pb[i];
}

/* Plain growable arrays. */
typedef struct {
    Op *v;
    Py_ssize_t n, cap;
} OpList;

static int
ol_push(OpList *l, int op, Py_ssize_t n)
{
    if (l->n == l->cap) {
        Py_ssize_t cap = next_cap(l->cap, l->n + 1);
        Op *v = grow(l->v, cap, sizeof(Op));
        if (v == NULL)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].op = op;
    l->v[l->n].n = n;
    l->n++;
    return 0;
}

typedef struct {
    Py_ssize_t *v;
    Py_ssize_t n, cap;
} SizeList;

static int
sl_push(SizeList *l, Py_ssize_t x)
{
    if (l->n == l->cap) {
        Py_ssize_t cap = next_cap(l->cap, l->n + 1);
        Py_ssize_t *v = grow(l->v, cap, sizeof(Py_ssize_t));
        if (v == NULL)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = x;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Symbol string helpers                                                                       */

static int
sym_eq(const sym_t *x, const sym_t *y, Py_ssize_t n)
{
    return n <= 0 || memcmp(x, y, (size_t)n * sizeof(sym_t)) == 0;
}

static Py_ssize_t
common_prefix(const sym_t *x, Py_ssize_t nx, const sym_t *y, Py_ssize_t ny)
{
    Py_ssize_t n = nx < ny ? nx : ny, i = 0;
    if (n == 0 || x[0] != y[0])
        return 0;
    while (i + 16 <= n && memcmp(x + i, y + i, 16 * sizeof(sym_t)) == 0)
        i += 16;
    while (i < n && x[i] == y[i])
        i++;
    return i;
}

static Py_ssize_t
common_suffix(const sym_t *x, Py_ssize_t nx, const sym_t *y, Py_ssize_t ny)
{
    Py_ssize_t n = nx < ny ? nx : ny, i = 0;
    if (n == 0 || x[nx - 1] != y[ny - 1])
        return 0;
    while (i + 16 <= n && memcmp(x + nx - i - 16, y + ny - i - 16, 16 * sizeof(sym_t)) == 0)
        i += 16;
    while (i < n && x[nx - 1 - i] == y[ny - 1 - i])
        i++;
    return i;
}

typedef struct {
    Py_ssize_t *v;
    Py_ssize_t cap;
} Scratch;

static Py_ssize_t *
scratch(Scratch *s, Py_ssize_t n)
{
    if (n > s->cap || s->v == NULL) {
        Py_ssize_t cap = next_cap(s->cap, n);
        Py_ssize_t *v = grow(s->v, cap, sizeof(Py_ssize_t));
        if (v == NULL)
            return NULL;
        s->v = v;
        s->cap = cap;
    }
    return s->v;
}

/* KMP failure function of p[0:n] into f. */
static void
kmp_fail(const sym_t *p, Py_ssize_t n, Py_ssize_t *f)
{
    if (n == 0)
        return;
    f[0] = 0;
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 1; i < n; i++) {
        while (k > 0 && p[i] != p[k])
            k = f[k - 1];
        if (p[i] == p[k])
            k++;
        f[i] = k;
    }
}

/* str.find: first index of needle in hay, or -1 (linear time: hostile text stays cheap).
 * Returns -2 with an exception set on memory failure. */
static Py_ssize_t
find(const sym_t *hay, Py_ssize_t nh, const sym_t *needle, Py_ssize_t nn, Scratch *s)
{
    if (nn == 0)
        return 0;
    if (nn > nh)
        return -1;
    if (nn == 1) {
        for (Py_ssize_t i = 0; i < nh; i++)
            if (hay[i] == needle[0])
                return i;
        return -1;
    }
    Py_ssize_t *f = scratch(s, nn);
    if (f == NULL)
        return -2;
    kmp_fail(needle, nn, f);
    Py_ssize_t q = 0;
    for (Py_ssize_t i = 0; i < nh; i++) {
        while (q > 0 && hay[i] != needle[q])
            q = f[q - 1];
        if (hay[i] == needle[q])
            q++;
        if (q == nn)
            return i - nn + 1;
    }
    return -1;
}

/* dmp's diff_commonOverlap: the longest suffix of t1 that is a prefix of t2 (dmp's search
 * finds the maximum; this computes the same maximum in linear time). -1 on memory failure. */
static Py_ssize_t
common_overlap(const sym_t *t1, Py_ssize_t n1, const sym_t *t2, Py_ssize_t n2, Scratch *s)
{
    if (n1 == 0 || n2 == 0)
        return 0;
    Py_ssize_t len = n1 < n2 ? n1 : n2;
    const sym_t *text = t1 + (n1 - len); /* t1[-len:] */
    const sym_t *pat = t2;               /* t2[:len] */
    Py_ssize_t *f = scratch(s, len);
    if (f == NULL)
        return -1;
    kmp_fail(pat, len, f);
    Py_ssize_t q = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        if (q == len)
            q = f[q - 1];
        while (q > 0 && text[i] != pat[q])
            q = f[q - 1];
        if (text[i] == pat[q])
            q++;
    }
    return q;
}

/* Python's text[i] (negative i counts from the end); -1 with IndexError when out of range. */
static int
py_at(const sym_t *t, Py_ssize_t n, Py_ssize_t i, sym_t *out)
{
    if (i < 0)
        i += n;
    if (i < 0 || i >= n) {
        PyErr_SetString(PyExc_IndexError, "string index out of range");
        return -1;
    }
    *out = t[i];
    return 0;
}

/* Python slice bound normalisation (text[:i] with 0 <= result <= n). */
static Py_ssize_t
py_bound(Py_ssize_t i, Py_ssize_t n)
{
    if (i < 0) {
        i += n;
        if (i < 0)
            i = 0;
    }
    return i > n ? n : i;
}

/* ------------------------------------------------------------------------------------------ */
/* dmp's cleanupMerge on ops[base:] (a valid diff starting at position ov_pos(base))           */

static int
cleanup_merge(OpVec *o, const sym_t *A, const sym_t *B, Py_ssize_t base)
{
    for (;;) {
        if (ov_push(o, OP_EQ, 0) < 0) /* dummy entry at the end */
            return -1;
        Py_ssize_t pointer = base, cd = 0, ci = 0, ld = 0, li = 0, ra, rb;
        ov_pos(o, base, &ra, &rb); /* start of the current run of edits */
        while (pointer < o->n) {
            Op cur = o->v[pointer];
            if (cur.op == OP_INS) {
                ci++;
                li += cur.n;
                pointer++;
            }
            else if (cur.op == OP_DEL) {
                cd++;
                ld += cur.n;
                pointer++;
            }
            else {
                /* where this equality ends, whatever is moved across its start below */
                Py_ssize_t next_ra = ra + ld + cur.n, next_rb = rb + li + cur.n;
                if (cd + ci > 1) {
                    Py_ssize_t da = ra, ib = rb, dl = ld, il = li;
                    if (cd != 0 && ci != 0) {
                        Py_ssize_t c = common_prefix(B + ib, il, A + da, dl);
                        if (c != 0) {
                            Py_ssize_t x = pointer - cd - ci - 1;
                            if (x >= base && o->v[x].op == OP_EQ) {
                                ov_set(o, x, OP_EQ, o->v[x].n + c);
                            }
                            else {
                                if (ov_insert(o, base, OP_EQ, c) < 0)
                                    return -1;
                                pointer++;
                            }
                            da += c;
                            ib += c;
                            dl -= c;
                            il -= c;
                        }
                        c = common_suffix(B + ib, il, A + da, dl);
                        if (c != 0) {
                            ov_set(o, pointer, OP_EQ, o->v[pointer].n + c);
                            dl -= c;
                            il -= c;
                        }
                    }
                    Op repl[2];
                    Py_ssize_t k = 0;
                    if (dl != 0)
                        repl[k++] = (Op){OP_DEL, dl};
                    if (il != 0)
                        repl[k++] = (Op){OP_INS, il};
                    pointer -= cd + ci;
                    if (ov_replace(o, pointer, cd + ci, repl, k) < 0)
                        return -1;
                    pointer += k + 1;
                }
                else if (pointer != base && o->v[pointer - 1].op == OP_EQ) {
                    ov_set(o, pointer - 1, OP_EQ, o->v[pointer - 1].n + cur.n);
                    ov_delete(o, pointer);
                }
                else {
                    pointer++;
                }
                cd = ci = ld = li = 0;
                ra = next_ra;
                rb = next_rb;
            }
        }
        if (o->n > base && o->v[o->n - 1].n == 0) {
            o->n--; /* remove the dummy (or whatever empty op ended up last, as dmp does) */
            ov_touch(o, o->n);
        }

        /* Second pass: single edits between equalities shifted sideways to drop one. */
        int changes = 0;
        pointer = base + 1;
        while (pointer < o->n - 1) {
            if (o->v[pointer - 1].op == OP_EQ && o->v[pointer + 1].op == OP_EQ) {
                Py_ssize_t pa, pb;
                ov_pos(o, pointer - 1, &pa, &pb);
                Py_ssize_t l1 = o->v[pointer - 1].n, le = o->v[pointer].n;
                Py_ssize_t l2 = o->v[pointer + 1].n;
                int eop = o->v[pointer].op;
                const sym_t *prev = A + pa;
                const sym_t *edit = eop == OP_INS ? B + pb + l1 : A + pa + l1;
                const sym_t *next = A + pa + l1 + (eop != OP_INS ? le : 0);
                if (le >= l1 && sym_eq(edit + le - l1, prev, l1)) {
                    /* A<edit>BA</edit>C -> <edit>AB</edit>AC */
                    if (l1 != 0)
                        ov_set(o, pointer + 1, OP_EQ, l2 + l1);
                    ov_delete(o, pointer - 1);
                    changes = 1;
                }
                else if (le >= l2 && sym_eq(edit, next, l2)) {
                    ov_set(o, pointer - 1, OP_EQ, l1 + l2);
                    ov_delete(o, pointer + 1);
                    changes = 1;
                }
            }
            pointer++;
        }
        if (!changes)
            return 0;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* dmp's diff_main with diffs.py's step-bounded bisect (no timeout, no half-match, no lines)  */

typedef struct {
    const sym_t *A, *B;
    long long steps; /* diagonal steps left, as _TokenDmp.steps */
    int bailed;
    int bounded; /* 0: stock dmp without deadline (line level) */
    int depth;   /* diff_main nesting: about log2 of the edit distance */
    OpVec *out;
    Scratch find_scratch;
} Myers;

static int diff_main(Myers *m, Py_ssize_t a0, Py_ssize_t n1, Py_ssize_t b0, Py_ssize_t n2);

static Py_ssize_t
range2_len(Py_ssize_t start, Py_ssize_t stop)
{
    return stop > start ? (stop - start + 1) / 2 : 0;
}

static int
diff_bisect(Myers *m, Py_ssize_t a0, Py_ssize_t n1, Py_ssize_t b0, Py_ssize_t n2)
{
    const sym_t *t1 = m->A + a0, *t2 = m->B + b0;
    Py_ssize_t max_d = (n1 + n2 + 1) / 2;
    Py_ssize_t v_offset = max_d, v_length = 2 * max_d;
    Py_ssize_t alloc = v_length > v_offset + 2 ? v_length : v_offset + 2;
    Py_ssize_t *v1 = grow(NULL, 2 * alloc, sizeof(Py_ssize_t));
    if (v1 == NULL)
        return -1;
    Py_ssize_t *v2 = v1 + alloc;
    for (Py_ssize_t i = 0; i < alloc; i++)
        v1[i] = v2[i] = -1;
    v1[v_offset + 1] = 0;
    v2[v_offset + 1] = 0;
    Py_ssize_t delta = n1 - n2;
    int front = delta % 2 != 0;
    Py_ssize_t k1start = 0, k1end = 0, k2start = 0, k2end = 0;
    Py_ssize_t mirror = 2 * v_offset + delta;
    Py_ssize_t sx = 0, sy = 0;
    int split = 0;
    for (Py_ssize_t d = 0; d < max_d && !split; d++) {
        Py_ssize_t first = v_offset - d, last = v_offset + d;
        Py_ssize_t s1 = first + k1start, e1 = last + 1 - k1end;
        Py_ssize_t s2 = first + k2start, e2 = last + 1 - k2end;
        if (m->bounded) {
            m->steps -= range2_len(s1, e1) + range2_len(s2, e2) + 1;
            if (m->steps < 0) {
                m->bailed = 1;
                break;
            }
        }
        for (Py_ssize_t k1 = s1; k1 < e1; k1 += 2) {
            Py_ssize_t x1, y1;
            if (k1 == first || (k1 != last && v1[k1 - 1] < v1[k1 + 1]))
                x1 = v1[k1 + 1];
            else
                x1 = v1[k1 - 1] + 1;
            y1 = x1 - k1 + v_offset;
            if (x1 >= 0 && y1 >= 0) {
                while (x1 < n1 && y1 < n2 && t1[x1] == t2[y1]) {
                    x1++;
                    y1++;
                }
            }
            else {
                for (;;) { /* Python index semantics (never seen in practice) */
                    sym_t c1, c2;
                    if (!(x1 < n1 && y1 < n2))
                        break;
                    if (py_at(t1, n1, x1, &c1) < 0 || py_at(t2, n2, y1, &c2) < 0)
                        goto error;
                    if (c1 != c2)
                        break;
                    x1++;
                    y1++;
                }
            }
            v1[k1] = x1;
            if (x1 > n1) {
                k1end += 2;
            }
            else if (y1 > n2) {
                k1start += 2;
            }
            else if (front) {
                Py_ssize_t k2 = mirror - k1;
                if (k2 >= 0 && k2 < v_length && v2[k2] != -1) {
                    if (x1 >= n1 - v2[k2]) {
                        sx = x1;
                        sy = y1;
                        split = 1;
                        break;
                    }
                }
            }
        }
        if (split)
            break;
        for (Py_ssize_t k2 = s2; k2 < e2; k2 += 2) {
            Py_ssize_t x2, y2;
            if (k2 == first || (k2 != last && v2[k2 - 1] < v2[k2 + 1]))
                x2 = v2[k2 + 1];
            else
                x2 = v2[k2 - 1] + 1;
            y2 = x2 - k2 + v_offset;
            if (x2 >= 0 && y2 >= 0) {
                while (x2 < n1 && y2 < n2 && t1[n1 - x2 - 1] == t2[n2 - y2 - 1]) {
                    x2++;
                    y2++;
                }
            }
            else {
                for (;;) {
                    sym_t c1, c2;
                    if (!(x2 < n1 && y2 < n2))
                        break;
                    if (py_at(t1, n1, -x2 - 1, &c1) < 0 || py_at(t2, n2, -y2 - 1, &c2) < 0)
                        goto error;
                    if (c1 != c2)
                        break;
                    x2++;
                    y2++;
                }
            }
            v2[k2] = x2;
            if (x2 > n1) {
                k2end += 2;
            }
            else if (y2 > n2) {
                k2start += 2;
            }
            else if (!front) {
                Py_ssize_t k1 = mirror - k2;
                if (k1 >= 0 && k1 < v_length && v1[k1] != -1) {
                    Py_ssize_t x1 = v1[k1];
                    Py_ssize_t y1 = v_offset + x1 - k1;
                    if (x1 >= n1 - x2) {
                        sx = x1;
                        sy = y1;
                        split = 1;
                        break;
                    }
                }
            }
        }
    }
    PyMem_Free(v1);
    if (split) { /* diff_bisectSplit: both halves through diff_main, in order */
        sx = py_bound(sx, n1);
        sy = py_bound(sy, n2);
        if (diff_main(m, a0, sx, b0, sy) < 0)
            return -1;
        return diff_main(m, a0 + sx, n1 - sx, b0 + sy, n2 - sy);
    }
    if (ov_push(m->out, OP_DEL, n1) < 0 || ov_push(m->out, OP_INS, n2) < 0)
        return -1;
    return 0;
error:
    PyMem_Free(v1);
    return -1;
}

static int
diff_compute(Myers *m, Py_ssize_t a0, Py_ssize_t n1, Py_ssize_t b0, Py_ssize_t n2)
{
    if (n1 == 0)
        return ov_push(m->out, OP_INS, n2);
    if (n2 == 0)
        return ov_push(m->out, OP_DEL, n1);
    const sym_t *lt, *st;
    Py_ssize_t nl, ns;
    if (n1 > n2) {
        lt = m->A + a0;
        nl = n1;
        st = m->B + b0;
        ns = n2;
    }
    else {
        st = m->A + a0;
        ns = n1;
        lt = m->B + b0;
        nl = n2;
    }
    Py_ssize_t i = find(lt, nl, st, ns, &m->find_scratch);
    if (i == -2)
        return -1;
    if (i != -1) { /* the shorter text inside the longer one */
        int op = n1 > n2 ? OP_DEL : OP_INS;
        if (ov_push(m->out, op, i) < 0 || ov_push(m->out, OP_EQ, ns) < 0 ||
            ov_push(m->out, op, nl - i - ns) < 0)
            return -1;
        return 0;
    }
    if (ns == 1) {
        if (ov_push(m->out, OP_DEL, n1) < 0 || ov_push(m->out, OP_INS, n2) < 0)
            return -1;
        return 0;
    }
    /* no half-match: Diff_Timeout is 0; no line mode: checklines is False */
    return diff_bisect(m, a0, n1, b0, n2);
}

static int diff_main_body(Myers *m, Py_ssize_t a0, Py_ssize_t n1, Py_ssize_t b0, Py_ssize_t n2);

static int
diff_main(Myers *m, Py_ssize_t a0, Py_ssize_t n1, Py_ssize_t b0, Py_ssize_t n2)
{
    /* The Python would stop far earlier (RecursionError); this only guards the C stack. */
    if (m->depth >= 1000) {
        PyErr_SetString(PyExc_RecursionError, "diff_main nested too deeply");
        return -1;
    }
    m->depth++;
    int r = diff_main_body(m, a0, n1, b0, n2);
    m->depth--;
    return r;
}

static int
diff_main_body(Myers *m, Py_ssize_t a0, Py_ssize_t n1, Py_ssize_t b0, Py_ssize_t n2)
{
    if (n1 == n2 && sym_eq(m->A + a0, m->B + b0, n1))
        return n1 ? ov_push(m->out, OP_EQ, n1) : 0;
    Py_ssize_t start = m->out->n;
    Py_ssize_t pre = common_prefix(m->A + a0, n1, m->B + b0, n2);
    a0 += pre;
    b0 += pre;
    n1 -= pre;
    n2 -= pre;
    Py_ssize_t suf = common_suffix(m->A + a0, n1, m->B + b0, n2);
    n1 -= suf;
    n2 -= suf;
    if (pre && ov_push(m->out, OP_EQ, pre) < 0)
        return -1;
    if (diff_compute(m, a0, n1, b0, n2) < 0)
        return -1;
    if (suf && ov_push(m->out, OP_EQ, suf) < 0)
        return -1;
    return cleanup_merge(m->out, m->A, m->B, start);
}

/* _myers(dmp, a, b): dmp.diff_main(a, b, False) without empty ops, appended to dest. */
static int
myers(Myers *m, OpVec *scratch_ops, const sym_t *a, Py_ssize_t na, const sym_t *b,
      Py_ssize_t nb, OpList *dest)
{
    ov_clear(scratch_ops);
    if (ov_reserve(scratch_ops, 1) < 0)
        return -1;
    m->A = a;
    m->B = b;
    m->out = scratch_ops;
    if (diff_main(m, 0, na, 0, nb) < 0)
        return -1;
    for (Py_ssize_t i = 0; i < scratch_ops->n; i++)
        if (scratch_ops->v[i].n && ol_push(dest, scratch_ops->v[i].op, scratch_ops->v[i].n) < 0)
            return -1;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Symbol tables (token or line -> id) with per-symbol flags                                  */

#define F_NONWORD 0x001 /* _is_token_word false (word level) or blank line (line level) */
#define L_NONALNUM 0x002 /* last char: not alnum */
#define L_WS 0x004       /* ... and whitespace */
#define L_LB 0x008       /* ... and \r or \n */
#define L_BLANKEND 0x010 /* the token matches \n\r?\n$ */
#define R_NONALNUM 0x020 /* first char: not alnum */
#define R_WS 0x040
#define R_LB 0x080
#define R_BLANKSTART 0x100 /* the token matches ^\r?\n\r?\n */

/* An open-addressing slot: the key (a span of text) and its hash beside the id, so a probe
 * touches one cache line. */
typedef struct {
    Py_hash_t hash;
    const Py_UCS4 *ptr;
    Py_ssize_t len;
    Py_ssize_t idp1; /* id + 1, 0 when empty */
} Slot;

typedef struct {
    Slot *slots;
    Py_ssize_t nslots;
    int secure; /* hashing with SipHash (after a long probe) */
    Py_ssize_t latin1[256]; /* id + 1 of one-character items below 256 (most spaces and
                               punctuation), found without hashing */
    uint16_t *flags;
    Py_ssize_t *stamp; /* last block that used the symbol (for the distinct count) */
    Py_ssize_t n, cap;
    /* scratch indexed by id, all zero between uses */
    Py_ssize_t *c1, *c2, *posb;
    Py_ssize_t scap;
} Table;

static void
table_free(Table *t)
{
    PyMem_Free(t->slots);
    PyMem_Free(t->flags);
    PyMem_Free(t->stamp);
    PyMem_Free(t->c1);
    PyMem_Free(t->c2);
    PyMem_Free(t->posb);
    memset(t, 0, sizeof(*t));
}

/* Item hashes: a fast seeded hash, and Python's keyed SipHash once a probe runs suspiciously
 * long (text crafted to collide), so hostile input cannot make the tables quadratic. Hashes
 * only place items in the table: which one is used never changes a result. */
static uint64_t hash_seed;

static inline uint64_t
fold_mul(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
    uint64_t r = a * b;
    return r ^ (r >> 29) ^ (((a >> 32) * (b >> 32)) << 7);
#endif
}

static Py_hash_t
hash_span(const Py_UCS4 *p, Py_ssize_t n, int secure)
{
    if (secure) {
#if PY_VERSION_HEX >= 0x030E0000
        return Py_HashBuffer(p, n * (Py_ssize_t)sizeof(Py_UCS4));
#else
        return _Py_HashBytes(p, n * (Py_ssize_t)sizeof(Py_UCS4));
#endif
    }
    /* wyhash-style: 4 code points per 128-bit multiply; the second factor always has bits
     * above 21 set, so it is never zero */
    const uint64_t k1 = 0xA0761D6478BD642FULL, k2 = 0xE7037ED1A0B428DBULL;
    uint64_t h = hash_seed ^ ((uint64_t)n * 0x9E3779B97F4A7C15ULL);
    Py_ssize_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint64_t w0 = (uint64_t)p[i] | ((uint64_t)p[i + 1] << 32);
        uint64_t w1 = (uint64_t)p[i + 2] | ((uint64_t)p[i + 3] << 32);
        h = fold_mul(h ^ w0 ^ k1, w1 ^ k2);
    }
    if (i + 2 <= n) {
        h = fold_mul(h ^ ((uint64_t)p[i] | ((uint64_t)p[i + 1] << 32)), k1);
        i += 2;
    }
    if (i < n)
        h = fold_mul(h ^ (uint64_t)p[i], k2);
    return (Py_hash_t)fold_mul(h, 0x8EBC6AF09C88C6E3ULL ^ hash_seed);
}

#define MAX_PROBES 100

static int
table_rehash(Table *t, Py_ssize_t nslots, int secure)
{
    Slot *slots = PyMem_Calloc((size_t)nslots, sizeof(Slot));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    size_t mask = (size_t)nslots - 1;
    for (Py_ssize_t k = 0; k < t->nslots; k++) {
        Slot e = t->slots[k];
        if (!e.idp1)
            continue;
        if (secure)
            e.hash = hash_span(e.ptr, e.len, 1);
        size_t i = (size_t)e.hash & mask;
        while (slots[i].idp1)
            i = (i + 1) & mask;
        slots[i] = e;
    }
    PyMem_Free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    t->secure |= secure;
    return 0;
}

/* The scratch arrays cover every id (zeroed where new). */
static int
table_scratch(Table *t)
{
    if (t->scap >= t->n && t->c1 != NULL)
        return 0;
    Py_ssize_t cap = next_cap(t->scap, t->n);
    Py_ssize_t *c1 = grow(t->c1, cap, sizeof(Py_ssize_t));
    if (c1 == NULL)
        return -1;
    t->c1 = c1;
    Py_ssize_t *c2 = grow(t->c2, cap, sizeof(Py_ssize_t));
    if (c2 == NULL)
        return -1;
    t->c2 = c2;
    Py_ssize_t *posb = grow(t->posb, cap, sizeof(Py_ssize_t));
    if (posb == NULL)
        return -1;
    t->posb = posb;
    for (Py_ssize_t i = t->scap; i < cap; i++) /* the old part is zero already */
        c1[i] = c2[i] = posb[i] = 0;
    t->scap = cap;
    return 0;
}

static const unsigned char *marks; /* bitmap of the combining marks diffs.py's regexes use */

static inline int
is_mark(Py_UCS4 c)
{
    return marks != NULL && c < 0x110000 && (marks[c >> 3] >> (c & 7)) & 1;
}

/* TOKEN_RE's character classes: a token is a run of word characters (\w, i.e. alnum or _,
 * and the combining marks), a run of whitespace (\s), or one other character. */
#define C_OTHER 0
#define C_WORD 1
#define C_SPACE 2

static unsigned char bmp_class[0x10000]; /* filled by configure() */

static int
compute_class(Py_UCS4 c)
{
    if (Py_UNICODE_ISALNUM(c) || c == '_' || is_mark(c))
        return C_WORD;
    return Py_UNICODE_ISSPACE(c) ? C_SPACE : C_OTHER;
}

static inline int
char_class(Py_UCS4 c)
{
    return c < 0x10000 ? bmp_class[c] : compute_class(c);
}

static inline int
is_wordc(Py_UCS4 c)
{
    return char_class(c) == C_WORD;
}

static int
token_flags(const Py_UCS4 *p, Py_ssize_t n, int line_level)
{
    int f = 0;
    if (line_level) { /* blank line: `not line.strip()` */
        Py_ssize_t i = 0;
        while (i < n && Py_UNICODE_ISSPACE(p[i]))
            i++;
        return i == n ? F_NONWORD : 0;
    }
    /* _is_token_word */
    if (n > 1 ? Py_UNICODE_ISSPACE(p[0]) : !is_wordc(p[0]))
        f |= F_NONWORD;
    /* _boundary_score's view of the token's two ends */
    Py_UCS4 c1 = p[n - 1], c2 = p[0];
    if (!Py_UNICODE_ISALNUM(c1)) {
        f |= L_NONALNUM;
        if (Py_UNICODE_ISSPACE(c1)) {
            f |= L_WS;
            if (c1 == '\r' || c1 == '\n') {
                f |= L_LB;
                /* \n\r?\n$ (the $ may also sit before a final \n: implies the same) */
                if (n >= 2 && p[n - 1] == '\n' &&
                    (p[n - 2] == '\n' || (n >= 3 && p[n - 2] == '\r' && p[n - 3] == '\n')))
                    f |= L_BLANKEND;
            }
        }
    }
    if (!Py_UNICODE_ISALNUM(c2)) {
        f |= R_NONALNUM;
        if (Py_UNICODE_ISSPACE(c2)) {
            f |= R_WS;
            if (c2 == '\r' || c2 == '\n') {
                f |= R_LB;
                /* ^\r?\n\r?\n */
                Py_ssize_t i = 0;
                if (i < n && p[i] == '\r')
                    i++;
                if (i < n && p[i] == '\n') {
                    i++;
                    if (i < n && p[i] == '\r')
                        i++;
                    if (i < n && p[i] == '\n')
                        f |= R_BLANKSTART;
                }
            }
        }
    }
    return f;
}

static inline int
span_eq(const Py_UCS4 *x, const Py_UCS4 *y, Py_ssize_t n)
{
    if (n <= 8) {
        for (Py_ssize_t i = 0; i < n; i++)
            if (x[i] != y[i])
                return 0;
        return 1;
    }
    return memcmp(x, y, (size_t)n * sizeof(Py_UCS4)) == 0;
}

/* The id of p[0:n], added when new. Returns -1 on error. */
static Py_ssize_t
table_id(Table *t, const Py_UCS4 *p, Py_ssize_t n, int line_level)
{
    if (n == 1 && p[0] < 256 && t->latin1[p[0]])
        return t->latin1[p[0]] - 1;
    if (t->nslots == 0 && table_rehash(t, 1024, 0) < 0)
        return -1;
    Py_hash_t h;
    size_t i;
    for (;;) {
        h = hash_span(p, n, t->secure);
        size_t mask = (size_t)t->nslots - 1;
        i = (size_t)h & mask;
        int probes = 0;
        for (;;) {
            const Slot *e = &t->slots[i];
            if (!e->idp1)
                break;
            if (e->hash == h && e->len == n && span_eq(e->ptr, p, n))
                return e->idp1 - 1;
            i = (i + 1) & mask;
            probes++;
        }
        if (probes <= MAX_PROBES || t->secure)
            break;
        if (table_rehash(t, t->nslots, 1) < 0) /* text crafted to collide: SipHash from now */
            return -1;
    }
    if (t->n >= 0xFFFFFFFFL) {
        PyErr_SetString(PyExc_MemoryError, "too many distinct tokens");
        return -1;
    }
    if (t->n == t->cap) {
        Py_ssize_t cap = next_cap(t->cap, t->n + 1);
        uint16_t *flags = grow(t->flags, cap, sizeof(*flags));
        if (flags == NULL)
            return -1;
        t->flags = flags;
        Py_ssize_t *stamp = grow(t->stamp, cap, sizeof(*stamp));
        if (stamp == NULL)
            return -1;
        t->stamp = stamp;
        t->cap = cap;
    }
    Py_ssize_t id = t->n++;
    t->flags[id] = (uint16_t)token_flags(p, n, line_level);
    t->stamp[id] = -1;
    t->slots[i] = (Slot){h, p, n, id + 1};
    if (n == 1 && p[0] < 256)
        t->latin1[p[0]] = id + 1;
    if (t->n * 2 > t->nslots && table_rehash(t, t->nslots * 2, 0) < 0)
        return -1;
    return id;
}

/* A text split into items (tokens or lines): ids and char offsets (off[n] = text length). */
typedef struct {
    sym_t *ids;
    Py_ssize_t *off;
    Py_ssize_t n, cap;
} Items;

static void
items_free(Items *it)
{
    PyMem_Free(it->ids);
    PyMem_Free(it->off);
    memset(it, 0, sizeof(*it));
}

static int
items_push(Items *it, sym_t id, Py_ssize_t start)
{
    if (it->n + 1 >= it->cap || it->off == NULL) {
        Py_ssize_t cap = next_cap(it->cap, it->n + 2);
        sym_t *ids = grow(it->ids, cap, sizeof(sym_t));
        if (ids == NULL)
            return -1;
        it->ids = ids;
        Py_ssize_t *off = grow(it->off, cap, sizeof(Py_ssize_t));
        if (off == NULL)
            return -1;
        it->off = off;
        it->cap = cap;
    }
    it->ids[it->n] = id;
    it->off[it->n] = start;
    it->n++;
    return 0;
}

static int
items_end(Items *it, Py_ssize_t end)
{
    if (it->off == NULL) {
        Py_ssize_t cap = next_cap(0, 2);
        sym_t *ids = grow(it->ids, cap, sizeof(sym_t));
        if (ids == NULL)
            return -1;
        it->ids = ids;
        it->off = grow(NULL, cap, sizeof(Py_ssize_t));
        if (it->off == NULL)
            return -1;
        it->cap = cap;
    }
    it->off[it->n] = end;
    return 0;
}

/* End of the TOKEN_RE match starting at s[i]. */
static inline Py_ssize_t
token_end(const Py_UCS4 *s, Py_ssize_t n, Py_ssize_t i)
{
    int k = char_class(s[i]);
    i++;
    if (k == C_OTHER)
        return i;
    while (i < n && char_class(s[i]) == k)
        i++;
    return i;
}

/* TOKEN_RE.findall(s) as ids; offsets relative to s. */
static int
tokenize(Table *t, const Py_UCS4 *s, Py_ssize_t n, Items *out)
{
    out->n = 0;
    Py_ssize_t i = 0;
    while (i < n) {
        Py_ssize_t j = token_end(s, n, i);
        Py_ssize_t id = table_id(t, s + i, j - i, 0);
        if (id < 0 || items_push(out, (sym_t)id, i) < 0)
            return -1;
        i = j;
    }
    return items_end(out, n);
}

/* The index of the first \n in s[i:n], or n. */
static Py_ssize_t
next_newline(const Py_UCS4 *s, Py_ssize_t i, Py_ssize_t n)
{
#if defined(__GLIBC__) && WCHAR_MAX > 0xFFFF
    /* glibc's wmemchr is vectorised; wchar_t is a 32-bit code point here */
    const wchar_t *hit = wmemchr((const wchar_t *)(s + i), L'\n', (size_t)(n - i));
    return hit ? (Py_ssize_t)((const Py_UCS4 *)hit - s) : n;
#else
    while (i < n && s[i] != '\n')
        i++;
    return i;
#endif
}

/* _split_lines (after each \n) as ids. */
static int
split_lines(Table *t, const Py_UCS4 *s, Py_ssize_t n, Items *out)
{
    out->n = 0;
    Py_ssize_t i = 0;
    while (i < n) {
        Py_ssize_t j = next_newline(s, i, n);
        if (j < n)
            j++;
        Py_ssize_t id = table_id(t, s + i, j - i, 1);
        if (id < 0 || items_push(out, (sym_t)id, i) < 0)
            return -1;
        i = j;
    }
    return items_end(out, n);
}

/* ------------------------------------------------------------------------------------------ */
/* Parameters (diffs.py's constants, passed on every call so they have one home)              */

typedef struct {
    long long myers_steps;
    double steps_per_char;
    long long small_gap_work;
    double min_shared;
    long long line_work_limit;
    long long anchor_factor;
    Py_ssize_t max_symbols;
} Params;

/* _cost(n, m) <= limit without overflow. */
static int
cost_le(Py_ssize_t n, Py_ssize_t m, long long limit)
{
    Py_ssize_t s = n + m, k = n < m ? n : m;
    if (s == 0)
        return 0 <= limit;
    if (limit < 0)
        return 0;
    return (long long)k <= limit / (long long)s;
}

/* _unrelated(a, b, drop): few shared symbols once those flagged F_NONWORD are ignored. */
static int
unrelated(const Params *p, Table *t, const sym_t *a, Py_ssize_t na, const sym_t *b,
          Py_ssize_t nb)
{
    if (cost_le(na, nb, p->small_gap_work))
        return 0;
    Py_ssize_t *cnt = t->c1, ka = 0, kb = 0, common = 0;
    for (Py_ssize_t i = 0; i < na; i++)
        if (!(t->flags[a[i]] & F_NONWORD)) {
            cnt[a[i]]++;
            ka++;
        }
    for (Py_ssize_t j = 0; j < nb; j++)
        if (!(t->flags[b[j]] & F_NONWORD)) {
            kb++;
            if (cnt[b[j]] > 0) {
                cnt[b[j]]--;
                common++;
            }
        }
    for (Py_ssize_t i = 0; i < na; i++)
        cnt[a[i]] = 0;
    return (double)common < p->min_shared * (double)(ka < kb ? ka : kb);
}

/* ------------------------------------------------------------------------------------------ */
/* _anchored_diff: patience anchoring on unique common symbols, gaps to a base diff           */

typedef struct {
    const Params *p;
    Table *t;
    Myers *m;
    OpVec *mops;   /* Myers scratch */
    int word;      /* 1: _word_refine's base, 0: _line_blocks' base */
    SizeList lis;  /* LIS scratch: pairs (i, j) flattened, tails, tail_idx, back */
    SizeList tails, tail_idx, back, anchors;
} Anchor;

static int
base_diff(Anchor *an, const sym_t *sa, Py_ssize_t n, const sym_t *sb, Py_ssize_t m, OpList *ops)
{
    const Params *p = an->p;
    if (an->word) {
        if (cost_le(n, m, p->small_gap_work)) { /* small gaps are always exact */
            long long left = an->m->steps;
            an->m->steps = p->small_gap_work;
            int r = myers(an->m, an->mops, sa, n, sb, m, ops);
            an->m->steps = left;
            return r;
        }
        if (unrelated(p, an->t, sa, n, sb, m))
            return ol_push(ops, OP_DEL, n) < 0 || ol_push(ops, OP_INS, m) < 0 ? -1 : 0;
        return myers(an->m, an->mops, sa, n, sb, m, ops);
    }
    if (cost_le(n, m, p->line_work_limit) && !unrelated(p, an->t, sa, n, sb, m))
        return myers(an->m, an->mops, sa, n, sb, m, ops);
    return ol_push(ops, OP_DEL, n) < 0 || ol_push(ops, OP_INS, m) < 0 ? -1 : 0;
}

/* Longest increasing subsequence on j of the pairs (i, j) in an->lis, into an->anchors. */
static int
lis(Anchor *an)
{
    Py_ssize_t np = an->lis.n / 2;
    const Py_ssize_t *pairs = an->lis.v;
    an->tails.n = an->tail_idx.n = an->back.n = an->anchors.n = 0;
    for (Py_ssize_t k = 0; k < np; k++) {
        Py_ssize_t j = pairs[2 * k + 1];
        Py_ssize_t lo = 0, hi = an->tails.n; /* bisect_left */
        while (lo < hi) {
            Py_ssize_t mid = (lo + hi) / 2;
            if (an->tails.v[mid] < j)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (sl_push(&an->back, lo ? an->tail_idx.v[lo - 1] : -1) < 0)
            return -1;
        if (lo == an->tails.n) {
            if (sl_push(&an->tails, j) < 0 || sl_push(&an->tail_idx, k) < 0)
                return -1;
        }
        else {
            an->tails.v[lo] = j;
            an->tail_idx.v[lo] = k;
        }
    }
    Py_ssize_t k = an->tail_idx.n ? an->tail_idx.v[an->tail_idx.n - 1] : -1;
    while (k >= 0) { /* reversed: the caller walks it backwards */
        if (sl_push(&an->anchors, pairs[2 * k]) < 0 || sl_push(&an->anchors, pairs[2 * k + 1]) < 0)
            return -1;
        k = an->back.v[k];
    }
    return 0;
}

typedef struct {
    Py_ssize_t eq; /* > 0: an equality of that length; 0: a gap */
    Py_ssize_t alo, ahi, blo, bhi;
} Task;

static int
anchored_diff(Anchor *an, const sym_t *a, Py_ssize_t na, const sym_t *b, Py_ssize_t nb,
              OpList *ops)
{
    Table *t = an->t;
    long long budget = an->p->anchor_factor * (long long)(na + nb) + 1000;
    Task *stack = NULL;
    Py_ssize_t sn = 0, scap = 0;
    int result = -1;
    if (table_scratch(t) < 0)
        return -1;
#define PUSH_TASK(...)                                                                        \
    do {                                                                                      \
        if (sn == scap) {                                                                     \
            Py_ssize_t c_ = next_cap(scap, sn + 1);                                           \
            Task *s_ = grow(stack, c_, sizeof(Task));                                         \
            if (s_ == NULL)                                                                   \
                goto done;                                                                    \
            stack = s_;                                                                       \
            scap = c_;                                                                        \
        }                                                                                     \
        stack[sn++] = (Task){__VA_ARGS__};                                                    \
    } while (0)
    PUSH_TASK(0, 0, na, 0, nb);
    while (sn) {
        Task task = stack[--sn];
        if (task.eq) {
            if (ol_push(ops, OP_EQ, task.eq) < 0)
                goto done;
            continue;
        }
        Py_ssize_t alo = task.alo, ahi = task.ahi, blo = task.blo, bhi = task.bhi;
        Py_ssize_t k = common_prefix(a + alo, ahi - alo, b + blo, bhi - blo);
        if (k) {
            if (ol_push(ops, OP_EQ, k) < 0)
                goto done;
            alo += k;
            blo += k;
        }
        k = common_suffix(a + alo, ahi - alo, b + blo, bhi - blo);
        ahi -= k;
        bhi -= k;
        if (k)
            PUSH_TASK(k, 0, 0, 0, 0);
        if (alo == ahi || blo == bhi) {
            if (alo < ahi && ol_push(ops, OP_DEL, ahi - alo) < 0)
                goto done;
            if (blo < bhi && ol_push(ops, OP_INS, bhi - blo) < 0)
                goto done;
            continue;
        }
        const sym_t *sa = a + alo, *sb = b + blo;
        Py_ssize_t n = ahi - alo, m = bhi - blo;
        budget -= n + m;
        an->anchors.n = 0;
        if (budget >= 0) {
            /* symbols once in sa and once in sb, paired in sa's order, then their LIS */
            Py_ssize_t *c1 = t->c1, *c2 = t->c2, *posb = t->posb;
            for (Py_ssize_t i = 0; i < n; i++)
                if (c1[sa[i]] < 2)
                    c1[sa[i]]++;
            for (Py_ssize_t j = 0; j < m; j++)
                if (c2[sb[j]] < 2) {
                    c2[sb[j]]++;
                    posb[sb[j]] = j;
                }
            an->lis.n = 0;
            int err = 0;
            for (Py_ssize_t i = 0; i < n && !err; i++)
                if (c1[sa[i]] == 1 && c2[sa[i]] == 1)
                    err = sl_push(&an->lis, i) < 0 || sl_push(&an->lis, posb[sa[i]]) < 0;
            for (Py_ssize_t i = 0; i < n; i++)
                c1[sa[i]] = 0;
            for (Py_ssize_t j = 0; j < m; j++)
                c2[sb[j]] = posb[sb[j]] = 0;
            if (err)
                goto done;
            if (an->lis.n && lis(an) < 0)
                goto done;
        }
        if (an->anchors.n == 0) {
            if (base_diff(an, sa, n, sb, m, ops) < 0)
                goto done;
            continue;
        }
        /* anchors are stored last first: push gaps and anchors so they pop in order */
        Py_ssize_t na2 = an->anchors.n / 2;
        const Py_ssize_t *av = an->anchors.v;
        /* bounds = [(-1,-1)] + anchors + [(n, m)]; anchors[q] (in order) = av[2*(na2-1-q)] */
        Py_ssize_t nb2 = na2 + 2;
        for (Py_ssize_t q = nb2 - 1; q > 0; q--) {
            Py_ssize_t i0, j0, i1, j1;
            if (q - 1 == 0) {
                i0 = -1;
                j0 = -1;
            }
            else {
                i0 = av[2 * (na2 - (q - 1))];
                j0 = av[2 * (na2 - (q - 1)) + 1];
            }
            if (q == nb2 - 1) {
                i1 = n;
                j1 = m;
            }
            else {
                i1 = av[2 * (na2 - q)];
                j1 = av[2 * (na2 - q) + 1];
                PUSH_TASK(1, 0, 0, 0, 0); /* the anchor itself */
            }
            PUSH_TASK(0, alo + i0 + 1, alo + i1, blo + j0 + 1, blo + j1);
        }
    }
    result = 0;
done:
#undef PUSH_TASK
    PyMem_Free(stack);
    return result;
}

/* _merge: adjacent ops merged, deletes before inserts inside each change run. */
static int
merge_ops(const Op *in, Py_ssize_t n, OpVec *out)
{
    ov_clear(out);
    if (ov_reserve(out, 1) < 0)
        return -1;
    Py_ssize_t dels = 0, ins = 0, eq = 0;
    int has_d = 0, has_i = 0, has_e = 0;
    for (Py_ssize_t k = 0; k < n; k++) {
        if (in[k].n == 0)
            continue;
        if (in[k].op == OP_EQ) {
            if (has_d && ov_push(out, OP_DEL, dels) < 0)
                return -1;
            if (has_i && ov_push(out, OP_INS, ins) < 0)
                return -1;
            has_d = has_i = 0;
            dels = ins = 0;
            eq += in[k].n;
            has_e = 1;
        }
        else {
            if (has_e && ov_push(out, OP_EQ, eq) < 0)
                return -1;
            has_e = 0;
            eq = 0;
            if (in[k].op == OP_DEL) {
                dels += in[k].n;
                has_d = 1;
            }
            else {
                ins += in[k].n;
                has_i = 1;
            }
        }
    }
    if (has_d && ov_push(out, OP_DEL, dels) < 0)
        return -1;
    if (has_i && ov_push(out, OP_INS, ins) < 0)
        return -1;
    if (has_e && ov_push(out, OP_EQ, eq) < 0)
        return -1;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* _TokenDmp.diff_cleanupSemantic                                                             */

/* _TokenDmp._score of one | two, where one = s[x:y] and two = s[y:z]. */
static int
score(const Table *t, const sym_t *s, Py_ssize_t x, Py_ssize_t y, Py_ssize_t z)
{
    if (y == x || z == y)
        return 6;
    int f1 = t->flags[s[y - 1]], f2 = t->flags[s[y]];
    int lb1 = f1 & L_LB, lb2 = f2 & R_LB;
    if ((lb1 && (f1 & L_BLANKEND)) || (lb2 && (f2 & R_BLANKSTART)))
        return 5;
    if (lb1 || lb2)
        return 4;
    int na1 = f1 & L_NONALNUM, na2 = f2 & R_NONALNUM, ws1 = f1 & L_WS, ws2 = f2 & R_WS;
    if (na1 && !ws1 && ws2)
        return 3;
    if (ws1 || ws2)
        return 2;
    if (na1 || na2)
        return 1;
    return 0;
}

static int
cleanup_lossless(OpVec *o, const Table *t, const sym_t *A, const sym_t *B)
{
    Py_ssize_t pointer = 1;
    while (pointer < o->n - 1) {
        if (o->v[pointer - 1].op == OP_EQ && o->v[pointer + 1].op == OP_EQ) {
            Py_ssize_t pa, pb;
            ov_pos(o, pointer - 1, &pa, &pb);
            Py_ssize_t l1 = o->v[pointer - 1].n, le = o->v[pointer].n, l2 = o->v[pointer + 1].n;
            /* equality1 + edit + equality2 is one span of the edit's side */
            const sym_t *s = o->v[pointer].op == OP_INS ? B + pb : A + pa;
            Py_ssize_t total = l1 + le + l2;
            Py_ssize_t i = l1 - common_suffix(s, l1, s + l1, le);
            Py_ssize_t best_i = i;
            int best = score(t, s, 0, i, i + le) + score(t, s, i, i + le, total);
            while (le > 0 && i + le < total && s[i] == s[i + le]) {
                i++;
                int sc = score(t, s, 0, i, i + le) + score(t, s, i, i + le, total);
                if (sc >= best) {
                    best = sc;
                    best_i = i;
                }
            }
            if (best_i != l1) {
                if (best_i > 0) {
                    ov_set(o, pointer - 1, OP_EQ, best_i);
                }
                else {
                    ov_delete(o, pointer - 1);
                    pointer--;
                }
                ov_touch(o, pointer); /* the edit moved */
                Py_ssize_t rest = total - best_i - le;
                if (rest > 0) {
                    ov_set(o, pointer + 1, o->v[pointer + 1].op, rest);
                }
                else {
                    ov_delete(o, pointer + 1);
                    pointer--;
                }
            }
        }
        pointer++;
    }
    return 0;
}

static int
extract_overlaps(OpVec *o, const sym_t *A, const sym_t *B, Scratch *s)
{
    Py_ssize_t pointer = 1;
    while (pointer < o->n) {
        if (o->v[pointer - 1].op == OP_DEL && o->v[pointer].op == OP_INS) {
            Py_ssize_t pa, pb;
            ov_pos(o, pointer - 1, &pa, &pb);
            Py_ssize_t dl = o->v[pointer - 1].n, il = o->v[pointer].n;
            const sym_t *del = A + pa, *ins = B + pb;
            Py_ssize_t o1 = common_overlap(del, dl, ins, il, s);
            Py_ssize_t o2 = common_overlap(ins, il, del, dl, s);
            if (o1 < 0 || o2 < 0)
                return -1;
            if (o1 >= o2) {
                if (2 * o1 >= dl || 2 * o1 >= il) {
                    if (ov_insert(o, pointer, OP_EQ, o1) < 0)
                        return -1;
                    ov_set(o, pointer - 1, OP_DEL, dl - o1);
                    ov_set(o, pointer + 1, OP_INS, il - o1);
                    pointer++;
                }
            }
            else {
                if (2 * o2 >= dl || 2 * o2 >= il) {
                    if (ov_insert(o, pointer, OP_EQ, o2) < 0)
                        return -1;
                    ov_set(o, pointer - 1, OP_INS, il - o2);
                    ov_set(o, pointer + 1, OP_DEL, dl - o2);
                    pointer++;
                }
            }
            pointer++;
        }
        pointer++;
    }
    return 0;
}

static int
cleanup_semantic(OpVec *o, const Table *t, const sym_t *A, const sym_t *B, Scratch *s)
{
    int changes = 0;
    SizeList eqs = {0};
    int has_last = 0;
    Py_ssize_t last_len = 0, pointer = 0, ins1 = 0, del1 = 0, ins2 = 0, del2 = 0;
    Py_ssize_t n = o->n;
    while (pointer < n) {
        Op cur = o->v[pointer];
        if (cur.op == OP_EQ) {
            if (sl_push(&eqs, pointer) < 0)
                goto error;
            ins1 = ins2;
            ins2 = 0;
            del1 = del2;
            del2 = 0;
            last_len = cur.n;
            has_last = 1;
        }
        else {
            if (cur.op == OP_INS)
                ins2 += cur.n;
            else
                del2 += cur.n;
            if (has_last && last_len > 0 && last_len <= (ins1 > del1 ? ins1 : del1) &&
                last_len <= (ins2 > del2 ? ins2 : del2)) {
                Py_ssize_t at = eqs.v[--eqs.n];
                if (ov_insert(o, at, OP_DEL, last_len) < 0)
                    goto error;
                ov_set(o, at + 1, OP_INS, o->v[at + 1].n);
                n++;
                if (eqs.n)
                    eqs.n--;
                pointer = eqs.n ? eqs.v[eqs.n - 1] : -1;
                ins1 = del1 = ins2 = del2 = 0;
                has_last = 0;
                changes = 1;
            }
        }
        pointer++;
    }
    PyMem_Free(eqs.v);
    if (changes && cleanup_merge(o, A, B, 0) < 0)
        return -1;
    if (cleanup_lossless(o, t, A, B) < 0)
        return -1;
    return extract_overlaps(o, A, B, s);
error:
    PyMem_Free(eqs.v);
    return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* _diff_ops                                                                                  */

typedef struct {
    Params p;
    const Py_UCS4 *old, *new;
    Table tokens, lines;
    Items ta, tb, la, lb;
    Myers m;
    OpVec mops, merged;
    OpList block_ops, line_ops;
    Anchor an;
    Scratch overlap;
    long long steps; /* the diff's Myers budget, shared by its blocks */
    Py_ssize_t block_no;
    OpList out; /* in characters */
} Diff;

static void
diff_free(Diff *d)
{
    table_free(&d->tokens);
    table_free(&d->lines);
    items_free(&d->ta);
    items_free(&d->tb);
    items_free(&d->la);
    items_free(&d->lb);
    PyMem_Free(d->m.find_scratch.v);
    ov_free(&d->mops);
    ov_free(&d->merged);
    PyMem_Free(d->block_ops.v);
    PyMem_Free(d->line_ops.v);
    PyMem_Free(d->an.lis.v);
    PyMem_Free(d->an.tails.v);
    PyMem_Free(d->an.tail_idx.v);
    PyMem_Free(d->an.back.v);
    PyMem_Free(d->an.anchors.v);
    PyMem_Free(d->overlap.v);
    PyMem_Free(d->out.v);
}

/* Distinct symbols of a block (both sides), counted with the table's stamps. */
static Py_ssize_t
distinct(Table *t, Py_ssize_t block, const Items *x, const Items *y)
{
    Py_ssize_t count = 0;
    for (Py_ssize_t i = 0; i < x->n; i++)
        if (t->stamp[x->ids[i]] != block) {
            t->stamp[x->ids[i]] = block;
            count++;
        }
    for (Py_ssize_t i = 0; i < y->n; i++)
        if (t->stamp[y->ids[i]] != block) {
            t->stamp[y->ids[i]] = block;
            count++;
        }
    return count;
}

/* _word_refine of old[ao:ao+dl] and new[bo:bo+il]; its char ops go to d->out. */
static int
word_refine(Diff *d, Py_ssize_t ao, Py_ssize_t dl, Py_ssize_t bo, Py_ssize_t il, int *coarse)
{
    if (dl == 0 || il == 0) {
        if (dl && ol_push(&d->out, OP_DEL, dl) < 0)
            return -1;
        if (il && ol_push(&d->out, OP_INS, il) < 0)
            return -1;
        return 0;
    }
    Table *t = &d->tokens;
    if (tokenize(t, d->old + ao, dl, &d->ta) < 0 || tokenize(t, d->new + bo, il, &d->tb) < 0)
        return -1;
    Py_ssize_t block = d->block_no++;
    if (d->ta.n + d->tb.n > d->p.max_symbols &&
        distinct(t, block, &d->ta, &d->tb) > d->p.max_symbols) { /* _too_many */
        *coarse = 1;
        return ol_push(&d->out, OP_DEL, dl) < 0 || ol_push(&d->out, OP_INS, il) < 0 ? -1 : 0;
    }
    if (table_scratch(t) < 0)
        return -1;
    const sym_t *a = d->ta.ids, *b = d->tb.ids;
    Py_ssize_t na = d->ta.n, nb = d->tb.n;
    if (unrelated(&d->p, t, a, na, b, nb))
        return ol_push(&d->out, OP_DEL, dl) < 0 || ol_push(&d->out, OP_INS, il) < 0 ? -1 : 0;
    d->m.steps = d->steps;
    d->m.bailed = 0;
    d->m.bounded = 1;
    d->an.t = t;
    d->an.word = 1;
    d->block_ops.n = 0;
    if (anchored_diff(&d->an, a, na, b, nb, &d->block_ops) < 0)
        return -1;
    if (merge_ops(d->block_ops.v, d->block_ops.n, &d->merged) < 0)
        return -1;
    d->steps = d->m.steps > 0 ? d->m.steps : 0;
    if (cleanup_semantic(&d->merged, t, a, b, &d->overlap) < 0)
        return -1;
    /* decode: token spans back to character lengths */
    Py_ssize_t pa = 0, pb = 0;
    for (Py_ssize_t k = 0; k < d->merged.n; k++) {
        Op e = d->merged.v[k];
        if (e.n) {
            Py_ssize_t chars = e.op == OP_INS ? d->tb.off[pb + e.n] - d->tb.off[pb]
                                              : d->ta.off[pa + e.n] - d->ta.off[pa];
            if (ol_push(&d->out, e.op, chars) < 0)
                return -1;
        }
        if (e.op != OP_INS)
            pa += e.n;
        if (e.op != OP_DEL)
            pb += e.n;
    }
    if (d->m.bailed)
        *coarse = 1;
    return 0;
}

/* _line_blocks of old[ao:ao+n] and new[bo:bo+m]: ops in characters into d->line_ops. */
static int
line_blocks(Diff *d, Py_ssize_t ao, Py_ssize_t n, Py_ssize_t bo, Py_ssize_t m)
{
    Table *t = &d->lines;
    d->line_ops.n = 0;
    if (split_lines(t, d->old + ao, n, &d->la) < 0 || split_lines(t, d->new + bo, m, &d->lb) < 0)
        return -1;
    if (d->la.n + d->lb.n > d->p.max_symbols && t->n > d->p.max_symbols) /* _too_many */
        return ol_push(&d->line_ops, OP_DEL, n) < 0 || ol_push(&d->line_ops, OP_INS, m) < 0 ? -1
                                                                                              : 0;
    d->m.bounded = 0;
    d->m.bailed = 0;
    d->an.t = t;
    d->an.word = 0;
    d->block_ops.n = 0;
    if (anchored_diff(&d->an, d->la.ids, d->la.n, d->lb.ids, d->lb.n, &d->block_ops) < 0)
        return -1;
    Py_ssize_t pa = 0, pb = 0;
    for (Py_ssize_t k = 0; k < d->block_ops.n; k++) {
        Op e = d->block_ops.v[k];
        Py_ssize_t chars = e.op == OP_INS ? d->lb.off[pb + e.n] - d->lb.off[pb]
                                          : d->la.off[pa + e.n] - d->la.off[pa];
        if (ol_push(&d->line_ops, e.op, chars) < 0)
            return -1;
        if (e.op != OP_INS)
            pa += e.n;
        if (e.op != OP_DEL)
            pb += e.n;
    }
    return 0;
}

static Py_UCS4 *
ucs4_of(PyObject *s)
{
    Py_UCS4 *buf = PyUnicode_AsUCS4Copy(s);
    return buf;
}

static int
parse_params(PyObject *t, Params *p)
{
    if (!PyArg_ParseTuple(t, "LdLdLLn;params: (MYERS_STEPS, MYERS_STEPS_PER_CHAR, "
                             "SMALL_GAP_WORK, MIN_SHARED_WORDS, LINE_WORK_LIMIT, "
                             "ANCHOR_BUDGET_FACTOR, _MAX_SYMBOLS)",
                          &p->myers_steps, &p->steps_per_char, &p->small_gap_work,
                          &p->min_shared, &p->line_work_limit, &p->anchor_factor,
                          &p->max_symbols))
        return -1;
    return 0;
}

/* The final _merge of the character ops, as a list of (op, str). */
static PyObject *
ops_to_list(const OpList *out, PyObject *old, PyObject *new)
{
    OpVec merged = {0};
    PyObject *list = NULL;
    if (merge_ops(out->v, out->n, &merged) < 0)
        goto done;
    list = PyList_New(merged.n);
    if (list == NULL)
        goto done;
    Py_ssize_t pa = 0, pb = 0;
    for (Py_ssize_t k = 0; k < merged.n; k++) {
        Op e = merged.v[k];
        PyObject *s = e.op == OP_INS ? PyUnicode_Substring(new, pb, pb + e.n)
                                     : PyUnicode_Substring(old, pa, pa + e.n);
        if (s == NULL) {
            Py_CLEAR(list);
            goto done;
        }
        PyObject *item = Py_BuildValue("(iN)", e.op, s);
        if (item == NULL) {
            Py_CLEAR(list);
            goto done;
        }
        PyList_SET_ITEM(list, k, item);
        if (e.op != OP_INS)
            pa += e.n;
        if (e.op != OP_DEL)
            pb += e.n;
    }
done:
    ov_free(&merged);
    return list;
}

static PyObject *
core_diff_ops(PyObject *self, PyObject *args)
{
    PyObject *old, *new, *params;
    if (!PyArg_ParseTuple(args, "UUO!:diff_ops", &old, &new, &PyTuple_Type, &params))
        return NULL;
    if (marks == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_diffcore.configure() was not called");
        return NULL;
    }
    Diff d;
    memset(&d, 0, sizeof(d));
    if (parse_params(params, &d.p) < 0)
        return NULL;
    Py_ssize_t nold = PyUnicode_GET_LENGTH(old), nnew = PyUnicode_GET_LENGTH(new);
    PyObject *result = NULL, *list = NULL;
    Py_UCS4 *o = NULL, *w = NULL;
    int coarse = 0;
    if (nold == nnew && PyUnicode_Compare(old, new) == 0) {
        if (PyErr_Occurred())
            return NULL;
        list = nold ? Py_BuildValue("[(iO)]", OP_EQ, old) : PyList_New(0);
        if (list == NULL)
            return NULL;
        return Py_BuildValue("(NO)", list, Py_False);
    }
    o = ucs4_of(old);
    w = ucs4_of(new);
    if (o == NULL || w == NULL)
        goto done;
    d.old = o;
    d.new = w;
    d.an.p = &d.p;
    d.an.m = &d.m;
    d.an.mops = &d.mops;
    /* identical leading / trailing whole lines */
    Py_ssize_t p = common_prefix(o, nold, w, nnew);
    while (p > 0 && o[p - 1] != '\n') /* old.rfind("\n", 0, p) + 1 */
        p--;
    Py_ssize_t k = common_suffix(o + p, nold - p, w + p, nnew - p);
    Py_ssize_t q = 0;
    if (k) {
        Py_ssize_t nl = nold - k;
        while (nl < nold && o[nl] != '\n')
            nl++;
        q = nl < nold ? nold - (nl + 1) : 0;
    }
    if (p && ol_push(&d.out, OP_EQ, p) < 0)
        goto done;
    d.steps = d.p.myers_steps +
              (long long)(d.p.steps_per_char * (double)(nold + nnew - 2 * (p + q)));
    if (line_blocks(&d, p, nold - p - q, p, nnew - p - q) < 0)
        goto done;
    /* equal lines go out as they are; each run of changed lines is refined at word level */
    Py_ssize_t po = p, pn = p, dl = 0, il = 0;
    for (Py_ssize_t i = 0; i <= d.line_ops.n; i++) {
        int last = i == d.line_ops.n;
        Op e = last ? (Op){OP_EQ, 0} : d.line_ops.v[i];
        if (e.op == OP_EQ) {
            if (dl || il) {
                if (word_refine(&d, po, dl, pn, il, &coarse) < 0)
                    goto done;
                po += dl;
                pn += il;
                dl = il = 0;
            }
            if (!last) {
                if (ol_push(&d.out, OP_EQ, e.n) < 0)
                    goto done;
                po += e.n;
                pn += e.n;
            }
        }
        else if (e.op == OP_DEL) {
            dl += e.n;
        }
        else {
            il += e.n;
        }
    }
    if (q && ol_push(&d.out, OP_EQ, q) < 0)
        goto done;
    list = ops_to_list(&d.out, old, new);
    if (list == NULL)
        goto done;
    result = Py_BuildValue("(NO)", list, coarse ? Py_True : Py_False);
done:
    PyMem_Free(o);
    PyMem_Free(w);
    diff_free(&d);
    return result;
}

/* ------------------------------------------------------------------------------------------ */
/* myers(a, b, steps): _myers over the code points of two str (for tests), with the steps left */

static PyObject *
core_myers(PyObject *self, PyObject *args)
{
    PyObject *a, *b, *steps_obj;
    if (!PyArg_ParseTuple(args, "UUO:myers", &a, &b, &steps_obj))
        return NULL;
    Myers m;
    memset(&m, 0, sizeof(m));
    if (steps_obj == Py_None) {
        m.bounded = 0;
    }
    else {
        m.bounded = 1;
        m.steps = PyLong_AsLongLong(steps_obj);
        if (m.steps == -1 && PyErr_Occurred())
            return NULL;
    }
    PyObject *result = NULL, *list = NULL;
    OpVec ops = {0};
    OpList dest = {0};
    Py_UCS4 *x = ucs4_of(a), *y = ucs4_of(b);
    if (x == NULL || y == NULL)
        goto done;
    if (myers(&m, &ops, x, PyUnicode_GET_LENGTH(a), y, PyUnicode_GET_LENGTH(b), &dest) < 0)
        goto done;
    list = PyList_New(dest.n);
    if (list == NULL)
        goto done;
    Py_ssize_t pa = 0, pb = 0;
    for (Py_ssize_t k = 0; k < dest.n; k++) {
        Op e = dest.v[k];
        PyObject *s = e.op == OP_INS ? PyUnicode_Substring(b, pb, pb + e.n)
                                     : PyUnicode_Substring(a, pa, pa + e.n);
        PyObject *item = s ? Py_BuildValue("(iN)", e.op, s) : NULL;
        if (item == NULL)
            goto done;
        PyList_SET_ITEM(list, k, item);
        if (e.op != OP_INS)
            pa += e.n;
        if (e.op != OP_DEL)
            pb += e.n;
    }
    if (m.bounded)
        result = Py_BuildValue("(OLO)", list, m.steps, m.bailed ? Py_True : Py_False);
    else
        result = Py_BuildValue("(OOO)", list, Py_None, m.bailed ? Py_True : Py_False);
done:
    Py_XDECREF(list);
    PyMem_Free(x);
    PyMem_Free(y);
    PyMem_Free(m.find_scratch.v);
    ov_free(&ops);
    PyMem_Free(dest.v);
    return result;
}

/* common_overlap(a, b): dmp's diff_commonOverlap over code points (for tests). */
static PyObject *
core_common_overlap(PyObject *self, PyObject *args)
{
    PyObject *a, *b;
    if (!PyArg_ParseTuple(args, "UU:common_overlap", &a, &b))
        return NULL;
    Scratch s = {0};
    PyObject *result = NULL;
    Py_UCS4 *x = ucs4_of(a), *y = ucs4_of(b);
    if (x != NULL && y != NULL) {
        Py_ssize_t n = common_overlap(x, PyUnicode_GET_LENGTH(a), y, PyUnicode_GET_LENGTH(b), &s);
        if (n >= 0)
            result = PyLong_FromSsize_t(n);
    }
    PyMem_Free(x);
    PyMem_Free(y);
    PyMem_Free(s.v);
    return result;
}

/* ------------------------------------------------------------------------------------------ */
/* tokens(text) / words(text): TOKEN_RE.findall / WORD_RE.findall                             */

static PyObject *
find_all(PyObject *text, int words_only)
{
    if (marks == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_diffcore.configure() was not called");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    Py_ssize_t i = 0;
    while (i < n) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        Py_ssize_t j = i + 1;
        int k = char_class(c), word = k == C_WORD;
        if (k != C_OTHER)
            while (j < n && char_class(PyUnicode_READ(kind, data, j)) == k)
                j++;
        if (word || !words_only) {
            PyObject *s = PyUnicode_Substring(text, i, j);
            if (s == NULL || PyList_Append(list, s) < 0) {
                Py_XDECREF(s);
                Py_DECREF(list);
                return NULL;
            }
            Py_DECREF(s);
        }
        i = j;
    }
    return list;
}

static PyObject *
core_tokens(PyObject *self, PyObject *arg)
{
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "tokens() expects a str");
        return NULL;
    }
    return find_all(arg, 0);
}

static PyObject *
core_words(PyObject *self, PyObject *arg)
{
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "words() expects a str");
        return NULL;
    }
    return find_all(arg, 1);
}

/* count_words(text): len(WORD_RE.findall(text)). */
static PyObject *
core_count_words(PyObject *self, PyObject *arg)
{
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "count_words() expects a str");
        return NULL;
    }
    if (marks == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_diffcore.configure() was not called");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg), count = 0;
    int kind = PyUnicode_KIND(arg), in_word = 0;
    const void *data = PyUnicode_DATA(arg);
    for (Py_ssize_t i = 0; i < n; i++) {
        int w = is_wordc(PyUnicode_READ(kind, data, i));
        count += w && !in_word;
        in_word = w;
    }
    return PyLong_FromSsize_t(count);
}

/* words_only(text): "".join(WORD_RE.findall(text)), i.e. text without its non-word chars. */
static PyObject *
core_words_only(PyObject *self, PyObject *arg)
{
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "words_only() expects a str");
        return NULL;
    }
    if (marks == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_diffcore.configure() was not called");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg), k = 0;
    int kind = PyUnicode_KIND(arg);
    const void *data = PyUnicode_DATA(arg);
    Py_UCS4 *buf = PyMem_Malloc(n ? (size_t)n * sizeof(Py_UCS4) : 1);
    if (buf == NULL)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (is_wordc(c))
            buf[k++] = c;
    }
    PyObject *result = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, buf, k);
    PyMem_Free(buf);
    return result;
}

/* ------------------------------------------------------------------------------------------ */
/* op_counts(ops) / classify(ops): diffs._stats' counts and diffs.classify, or None for ops    */
/* that are not plain (op, str) pairs with op in -1, 0, 1 (the Python then decides).           */

/* ops as a list of plain (op, str) pairs: 0, or 1 when not plain, -1 on error. */
static int
plain_ops(PyObject *ops)
{
    if (!PyList_Check(ops))
        return 1;
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(ops); k++) {
        PyObject *item = PyList_GET_ITEM(ops, k);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2 ||
            !PyLong_CheckExact(PyTuple_GET_ITEM(item, 0)) ||
            !PyUnicode_Check(PyTuple_GET_ITEM(item, 1)))
            return 1;
        int overflow;
        long op = PyLong_AsLongAndOverflow(PyTuple_GET_ITEM(item, 0), &overflow);
        if (op == -1 && PyErr_Occurred())
            return -1;
        if (overflow || (op != OP_DEL && op != OP_EQ && op != OP_INS))
            return 1;
    }
    return 0;
}

static int
op_at(PyObject *ops, Py_ssize_t k)
{
    return (int)PyLong_AsLong(PyTuple_GET_ITEM(PyList_GET_ITEM(ops, k), 0));
}

static PyObject *
text_at(PyObject *ops, Py_ssize_t k)
{
    return PyTuple_GET_ITEM(PyList_GET_ITEM(ops, k), 1);
}

static Py_ssize_t
count_words_in(PyObject *s)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(s), count = 0;
    int kind = PyUnicode_KIND(s), in_word = 0;
    const void *data = PyUnicode_DATA(s);
    for (Py_ssize_t i = 0; i < n; i++) {
        int w = is_wordc(PyUnicode_READ(kind, data, i));
        count += w && !in_word;
        in_word = w;
    }
    return count;
}

static PyObject *
core_op_counts(PyObject *self, PyObject *ops)
{
    if (marks == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_diffcore.configure() was not called");
        return NULL;
    }
    int plain = plain_ops(ops);
    if (plain < 0)
        return NULL;
    if (plain)
        Py_RETURN_NONE;
    Py_ssize_t ci = 0, cd = 0, wi = 0, wd = 0, eq = 0, hunks = 0;
    int in_change = 0;
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(ops); k++) {
        int op = op_at(ops, k);
        PyObject *s = text_at(ops, k);
        Py_ssize_t n = PyUnicode_GET_LENGTH(s);
        if (op == OP_INS) {
            ci += n;
            wi += count_words_in(s);
        }
        else if (op == OP_DEL) {
            cd += n;
            wd += count_words_in(s);
        }
        else {
            eq += n;
        }
        if (op != OP_EQ && !in_change)
            hunks++;
        in_change = op != OP_EQ;
    }
    return Py_BuildValue("(nnnnnn)", ci, cd, wi, wd, eq, hunks);
}

/* Growable UCS4 buffer. */
typedef struct {
    Py_UCS4 *v;
    Py_ssize_t n, cap;
} Chars;

static int
chars_reserve(Chars *c, Py_ssize_t extra)
{
    if (c->v != NULL && c->n + extra <= c->cap)
        return 0;
    if (extra > PY_SSIZE_T_MAX - c->n) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t cap = next_cap(c->cap, c->n + extra);
    Py_UCS4 *v = grow(c->v, cap, sizeof(Py_UCS4));
    if (v == NULL)
        return -1;
    c->v = v;
    c->cap = cap;
    return 0;
}

/* Appends to out the characters of one side of ops[start:end] (old: op != INSERT, new:
 * op != DELETE) that a filter keeps: 0 all, 1 word characters (_words_only), 2 non-whitespace
 * (_no_ws). */
static int
side_chars(PyObject *ops, Py_ssize_t start, Py_ssize_t end, int new_side, int filter, Chars *out)
{
    int skip = new_side ? OP_DEL : OP_INS;
    for (Py_ssize_t k = start; k < end; k++) {
        if (op_at(ops, k) == skip)
            continue;
        PyObject *t = text_at(ops, k);
        Py_ssize_t n = PyUnicode_GET_LENGTH(t);
        if (chars_reserve(out, n) < 0)
            return -1;
        if (filter == 0) {
            if (n && PyUnicode_AsUCS4(t, out->v + out->n, n, 0) == NULL)
                return -1;
            out->n += n;
            continue;
        }
        int kind = PyUnicode_KIND(t);
        const void *data = PyUnicode_DATA(t);
        Py_UCS4 *w = out->v + out->n;
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_UCS4 c = PyUnicode_READ(kind, data, i);
            if (filter == 1 ? is_wordc(c) : !Py_UNICODE_ISSPACE(c))
                *w++ = c;
        }
        out->n = w - out->v;
    }
    return 0;
}

/* casefold() of a character buffer, as a str. */
static PyObject *
casefolded(const Py_UCS4 *v, Py_ssize_t n)
{
    PyObject *text = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, v, n);
    if (text == NULL)
        return NULL;
    PyObject *folded = PyObject_CallMethod(text, "casefold", NULL);
    Py_DECREF(text);
    return folded;
}

/* keep(old side) == keep(new side) for ops[start:end]: 1, 0 or -1 on error; the kept
 * lengths go to *ld and *li. keep: the filter, then casefold when asked. */
static int
sides_equal(PyObject *ops, Py_ssize_t start, Py_ssize_t end, int filter, int casefold,
            Chars *buf, Py_ssize_t *ld, Py_ssize_t *li)
{
    buf->n = 0;
    if (side_chars(ops, start, end, 0, filter, buf) < 0)
        return -1;
    Py_ssize_t na = buf->n;
    if (side_chars(ops, start, end, 1, filter, buf) < 0)
        return -1;
    Py_ssize_t nb = buf->n - na;
    if (!casefold) {
        *ld = na;
        *li = nb;
        return na == nb && sym_eq(buf->v, buf->v + na, na);
    }
    PyObject *x = casefolded(buf->v, na);
    if (x == NULL)
        return -1;
    PyObject *y = casefolded(buf->v + na, nb);
    if (y == NULL) {
        Py_DECREF(x);
        return -1;
    }
    *ld = PyUnicode_GET_LENGTH(x);
    *li = PyUnicode_GET_LENGTH(y);
    int eq = PyUnicode_Compare(x, y) == 0;
    Py_DECREF(x);
    Py_DECREF(y);
    return eq;
}

/* _Filtered.equal_under over the runs: 1, 0 or -1 on error. */
static int
equal_under(PyObject *ops, const SizeList *runs, int filter, int casefold, Chars *buf)
{
    Py_ssize_t nruns = runs->n / 2, first = -1, last = -1, sd = 0, si = 0;
    for (Py_ssize_t r = 0; r < nruns; r++) {
        Py_ssize_t ld, li;
        int eq = sides_equal(ops, runs->v[2 * r], runs->v[2 * r + 1], filter, casefold, buf,
                             &ld, &li);
        if (eq < 0)
            return -1;
        if (!eq) {
            if (first < 0)
                first = r;
            last = r;
        }
        sd += ld;
        si += li;
    }
    if (first < 0)
        return 1;
    if (sd != si)
        return 0;
    Py_ssize_t ld, li;
    return sides_equal(ops, runs->v[2 * first], runs->v[2 * last + 1], filter, casefold, buf,
                       &ld, &li);
}

static PyObject *
core_classify(PyObject *self, PyObject *ops)
{
    if (marks == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_diffcore.configure() was not called");
        return NULL;
    }
    int plain = plain_ops(ops);
    if (plain < 0)
        return NULL;
    if (plain)
        Py_RETURN_NONE;
    /* change runs as op ranges [start, end) */
    SizeList runs = {0};
    Py_ssize_t n = PyList_GET_SIZE(ops), start = 0;
    for (Py_ssize_t k = 0; k <= n; k++) {
        if (k < n && op_at(ops, k) != OP_EQ)
            continue;
        if (k > start && (sl_push(&runs, start) < 0 || sl_push(&runs, k) < 0)) {
            PyMem_Free(runs.v);
            return NULL;
        }
        start = k + 1;
    }
    const char *cls;
    int r;
    Chars buf = {0};
    if (runs.n == 0 || (r = equal_under(ops, &runs, 0, 0, &buf)) == 1)
        cls = "none";
    else if (r < 0 || (r = equal_under(ops, &runs, 1, 1, &buf)) < 0)
        cls = NULL;
    else if (r == 0)
        cls = "substantive";
    else if ((r = equal_under(ops, &runs, 2, 0, &buf)) != 0)
        cls = r < 0 ? NULL : "trivial-whitespace";
    else if ((r = equal_under(ops, &runs, 1, 0, &buf)) != 0)
        cls = r < 0 ? NULL : "trivial-punctuation";
    else
        cls = "trivial-case";
    PyMem_Free(runs.v);
    PyMem_Free(buf.v);
    return cls ? PyUnicode_FromString(cls) : NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* to_delta(ops) / from_delta(old, delta): dmp's diff_toDelta / diff_fromDelta fast paths.     */
/* Both return None when the input is anything but the plain case (lone surrogates, unusual    */
/* numbers or escapes, a delta that does not fit): the caller then runs dmp itself, so errors  */
/* and odd inputs behave exactly as in dmp.                                                    */

typedef struct {
    char *v;
    Py_ssize_t n, cap;
} Buf;

static int
buf_put(Buf *b, const char *s, Py_ssize_t n)
{
    if (b->n + n > b->cap) {
        Py_ssize_t cap = next_cap(b->cap, b->n + n);
        char *v = grow(b->v, cap, 1);
        if (v == NULL)
            return -1;
        b->v = v;
        b->cap = cap;
    }
    memcpy(b->v + b->n, s, (size_t)n);
    b->n += n;
    return 0;
}

/* The UTF-16 length of a str, or -1 when it holds a lone surrogate (not encodable). */
static Py_ssize_t
utf16_len(PyObject *s)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(s), units = n;
    int kind = PyUnicode_KIND(s);
    if (kind == PyUnicode_2BYTE_KIND) {
        const Py_UCS2 *d = PyUnicode_2BYTE_DATA(s);
        for (Py_ssize_t i = 0; i < n; i++)
            if (d[i] >= 0xD800 && d[i] <= 0xDFFF)
                return -1;
    }
    else if (kind == PyUnicode_4BYTE_KIND) {
        const Py_UCS4 *d = PyUnicode_4BYTE_DATA(s);
        for (Py_ssize_t i = 0; i < n; i++) {
            if (d[i] > 0xFFFF)
                units++;
            else if (d[i] >= 0xD800 && d[i] <= 0xDFFF)
                return -1;
        }
    }
    return units;
}

static char quote_table[256]; /* 1: byte kept by dmp's quote, 0: %XX */

static void
init_quote_table(void)
{
    for (int c = 0; c < 256; c++)
        quote_table[c] = (char)((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                (c >= '0' && c <= '9') ||
                                (c != 0 && c < 128 && strchr("_.-~!*'();/?:@&=+$,# ", c)));
}

static char *
put_byte(char *w, unsigned char u)
{
    static const char hex[] = "0123456789ABCDEF";
    if (quote_table[u]) {
        *w++ = (char)u;
    }
    else {
        *w++ = '%';
        *w++ = hex[u >> 4];
        *w++ = hex[u & 15];
    }
    return w;
}

static PyObject *
core_to_delta(PyObject *self, PyObject *ops)
{
    if (!PyList_Check(ops))
        Py_RETURN_NONE;
    Buf b = {0};
    PyObject *result = NULL;
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(ops); k++) {
        PyObject *item = PyList_GET_ITEM(ops, k);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2 ||
            !PyLong_CheckExact(PyTuple_GET_ITEM(item, 0)) ||
            !PyUnicode_Check(PyTuple_GET_ITEM(item, 1)))
            goto fallback;
        int overflow;
        long op = PyLong_AsLongAndOverflow(PyTuple_GET_ITEM(item, 0), &overflow);
        PyObject *s = PyTuple_GET_ITEM(item, 1);
        if (overflow || (op != OP_DEL && op != OP_EQ && op != OP_INS))
            goto fallback;
        Py_ssize_t n = PyUnicode_GET_LENGTH(s);
        /* room for a tab, the op and the text at 4 UTF-8 bytes of 3 chars each */
        if (n > (PY_SSIZE_T_MAX - 64) / 12) {
            PyErr_NoMemory();
            goto done;
        }
        if (b.n + 12 * n + 64 > b.cap) {
            Py_ssize_t cap = next_cap(b.cap, b.n + 12 * n + 64);
            char *v = grow(b.v, cap, 1);
            if (v == NULL)
                goto done;
            b.v = v;
            b.cap = cap;
        }
        char *w = b.v + b.n;
        if (k)
            *w++ = '\t';
        if (op == OP_INS) {
            int kind = PyUnicode_KIND(s);
            const void *data = PyUnicode_DATA(s);
            *w++ = '+';
            for (Py_ssize_t i = 0; i < n; i++) {
                Py_UCS4 c = PyUnicode_READ(kind, data, i);
                if (c < 0x80) {
                    w = put_byte(w, (unsigned char)c);
                }
                else if (c < 0x800) {
                    w = put_byte(w, (unsigned char)(0xC0 | (c >> 6)));
                    w = put_byte(w, (unsigned char)(0x80 | (c & 0x3F)));
                }
                else if (c >= 0xD800 && c <= 0xDFFF) {
                    goto fallback; /* not encodable: dmp raises */
                }
                else if (c < 0x10000) {
                    w = put_byte(w, (unsigned char)(0xE0 | (c >> 12)));
                    w = put_byte(w, (unsigned char)(0x80 | ((c >> 6) & 0x3F)));
                    w = put_byte(w, (unsigned char)(0x80 | (c & 0x3F)));
                }
                else {
                    w = put_byte(w, (unsigned char)(0xF0 | (c >> 18)));
                    w = put_byte(w, (unsigned char)(0x80 | ((c >> 12) & 0x3F)));
                    w = put_byte(w, (unsigned char)(0x80 | ((c >> 6) & 0x3F)));
                    w = put_byte(w, (unsigned char)(0x80 | (c & 0x3F)));
                }
            }
        }
        else {
            Py_ssize_t units = utf16_len(s);
            if (units < 0)
                goto fallback;
            w += snprintf(w, 32, "%c%zd", op == OP_DEL ? '-' : '=', units);
        }
        b.n = w - b.v;
    }
    result = PyUnicode_DecodeASCII(b.v ? b.v : "", b.n, "strict");
    goto done;
fallback:
    result = Py_NewRef(Py_None);
done:
    PyMem_Free(b.v);
    return result;
}

static int
hexval(Py_UCS4 c)
{
    if (c >= '0' && c <= '9')
        return (int)(c - '0');
    if (c >= 'a' && c <= 'f')
        return (int)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F')
        return (int)(c - 'A' + 10);
    return -1;
}

static PyObject *
core_from_delta(PyObject *self, PyObject *args)
{
    PyObject *old, *delta;
    if (!PyArg_ParseTuple(args, "UU:from_delta", &old, &delta))
        return NULL;
    Py_ssize_t nold = PyUnicode_GET_LENGTH(old), nd = PyUnicode_GET_LENGTH(delta);
    int okind = PyUnicode_KIND(old), dkind = PyUnicode_KIND(delta);
    const void *odata = PyUnicode_DATA(old), *ddata = PyUnicode_DATA(delta);
    if (okind != PyUnicode_1BYTE_KIND) /* old.encode("utf-16-be") fails on lone surrogates */
        for (Py_ssize_t i = 0; i < nold; i++) {
            Py_UCS4 c = PyUnicode_READ(okind, odata, i);
            if (c >= 0xD800 && c <= 0xDFFF)
                Py_RETURN_NONE;
        }
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    Buf bytes = {0};
    Py_ssize_t pos = 0; /* code points of old consumed */
    Py_ssize_t i = 0;
    while (i <= nd) {
        Py_ssize_t j = i;
        while (j < nd && PyUnicode_READ(dkind, ddata, j) != '\t')
            j++;
        /* token delta[i:j] */
        if (j > i) {
            Py_UCS4 c0 = PyUnicode_READ(dkind, ddata, i);
            PyObject *item = NULL;
            if (c0 == '+') {
                int plain = 1;
                for (Py_ssize_t k = i + 1; k < j; k++) {
                    Py_UCS4 c = PyUnicode_READ(dkind, ddata, k);
                    if (c >= 0x80)
                        goto fallback;
                    if (c == '%')
                        plain = 0;
                }
                PyObject *s;
                if (plain) {
                    s = PyUnicode_Substring(delta, i + 1, j);
                }
                else {
                    bytes.n = 0;
                    for (Py_ssize_t k = i + 1; k < j; k++) {
                        Py_UCS4 c = PyUnicode_READ(dkind, ddata, k);
                        char byte = (char)c;
                        if (c == '%') {
                            if (k + 2 >= j)
                                goto fallback; /* dmp keeps a stray %: rare, left to it */
                            int h = hexval(PyUnicode_READ(dkind, ddata, k + 1));
                            int l = hexval(PyUnicode_READ(dkind, ddata, k + 2));
                            if (h < 0 || l < 0)
                                goto fallback;
                            byte = (char)(h * 16 + l);
                            k += 2;
                        }
                        if (buf_put(&bytes, &byte, 1) < 0)
                            goto error;
                    }
                    s = PyUnicode_DecodeUTF8(bytes.v ? bytes.v : "", bytes.n, "strict");
                    if (s == NULL) {
                        if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
                            goto error;
                        PyErr_Clear();
                        goto fallback; /* dmp decodes with errors="replace" */
                    }
                }
                if (s == NULL)
                    goto error;
                item = Py_BuildValue("(iN)", OP_INS, s);
            }
            else if (c0 == '-' || c0 == '=') {
                if (j - i < 2 || j - i > 19)
                    goto fallback;
                long long units = 0;
                for (Py_ssize_t k = i + 1; k < j; k++) {
                    Py_UCS4 c = PyUnicode_READ(dkind, ddata, k);
                    if (c < '0' || c > '9')
                        goto fallback;
                    units = units * 10 + (long long)(c - '0');
                }
                Py_ssize_t start = pos;
                if (okind != PyUnicode_4BYTE_KIND) { /* no astral chars: units are chars */
                    if (units > nold - pos)
                        goto fallback; /* runs past the end: dmp raises */
                    pos += (Py_ssize_t)units;
                    units = 0;
                }
                while (units > 0 && pos < nold) {
                    Py_UCS4 c = PyUnicode_READ(okind, odata, pos);
                    long long w = c > 0xFFFF ? 2 : 1;
                    if (w > units)
                        goto fallback; /* splits a surrogate pair: dmp raises */
                    units -= w;
                    pos++;
                }
                if (units > 0)
                    goto fallback; /* runs past the end: dmp raises */
                PyObject *s = PyUnicode_Substring(old, start, pos);
                if (s == NULL)
                    goto error;
                item = Py_BuildValue("(iN)", c0 == '-' ? OP_DEL : OP_EQ, s);
            }
            else {
                goto fallback;
            }
            if (item == NULL)
                goto error;
            if (PyList_Append(list, item) < 0) {
                Py_DECREF(item);
                goto error;
            }
            Py_DECREF(item);
        }
        i = j + 1;
    }
    if (pos != nold)
        goto fallback;
    PyMem_Free(bytes.v);
    return list;
fallback:
    PyMem_Free(bytes.v);
    Py_DECREF(list);
    Py_RETURN_NONE;
error:
    PyMem_Free(bytes.v);
    Py_DECREF(list);
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */

static unsigned char *marks_store;

static PyObject *
core_configure(PyObject *self, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    if (view.len != 0x110000 / 8) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "configure() expects a 0x110000-bit mark bitmap");
        return NULL;
    }
    unsigned char *copy = PyMem_Malloc((size_t)view.len);
    if (copy == NULL) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    memcpy(copy, view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    marks = copy;
    for (Py_UCS4 c = 0; c < 0x10000; c++)
        bmp_class[c] = (unsigned char)compute_class(c);
    hash_seed = (uint64_t)hash_span((const Py_UCS4 *)"_diffcore", 2, 1); /* keyed per process */
    PyMem_Free(marks_store);
    marks_store = copy;
    Py_RETURN_NONE;
}

static PyMethodDef core_methods[] = {
    {"configure", core_configure, METH_O,
     "configure(marks): the combining-mark bitmap (bit c set: code point c is a mark)."},
    {"diff_ops", core_diff_ops, METH_VARARGS,
     "diff_ops(old, new, params) -> (ops, coarse): diffs._diff_ops."},
    {"myers", core_myers, METH_VARARGS,
     "myers(a, b, steps) -> (ops, steps_left, bailed): _myers over code points "
     "(steps None: no budget)."},
    {"common_overlap", core_common_overlap, METH_VARARGS,
     "common_overlap(a, b): dmp's diff_commonOverlap."},
    {"tokens", core_tokens, METH_O, "tokens(text): TOKEN_RE.findall(text)."},
    {"words", core_words, METH_O, "words(text): WORD_RE.findall(text)."},
    {"count_words", core_count_words, METH_O, "count_words(text): len(words(text))."},
    {"words_only", core_words_only, METH_O, "words_only(text): \"\".join(words(text))."},
    {"op_counts", core_op_counts, METH_O,
     "op_counts(ops) -> (chars_ins, chars_del, words_ins, words_del, equal, hunks) or None."},
    {"classify", core_classify, METH_O, "classify(ops): diffs.classify, or None."},
    {"to_delta", core_to_delta, METH_O, "to_delta(ops): dmp's diff_toDelta, or None."},
    {"from_delta", core_from_delta, METH_VARARGS,
     "from_delta(old, delta): dmp's diff_fromDelta, or None."},
    {NULL, NULL, 0, NULL},
};

static void
core_free(void *module)
{
    marks = NULL;
    PyMem_Free(marks_store);
    marks_store = NULL;
}

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    "_diffcore",
    "The word-diff engine's hot loops in C (archive/diffs/*.py is the reference).",
    -1,
    core_methods,
    NULL,
    NULL,
    NULL,
    core_free,
};

PyMODINIT_FUNC
PyInit__diffcore(void)
{
    PyObject *m = PyModule_Create(&core_module);
    if (m == NULL)
        return NULL;
    init_quote_table();
    if (PyModule_AddIntConstant(m, "VERSION", CORE_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
