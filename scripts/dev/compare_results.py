#!/usr/bin/env python3
"""compare_results.py A B: compares two results.json files number by number.

Used to check that a refactoring changed no measurement: config, metrics,
series, tables, notes and plots must be equal; the machine, the commit,
timestamps and anything timed (metrics in seconds, rates, times in tables
or series) may differ. Exit 0 when equal, 1 with one line per difference.
"""
import json
import math
import re
import sys

TIMED = re.compile(r"(second|wall|time|tokens_per_s|tok/s|per s\b|\bs\)|_s$|elapsed)", re.I)
IGNORED = {"started", "finished", "machine", "commit", "frugal_version", "command"}


def timed(name, unit=None):
    return (unit in ("s", "ms", "tok/s")) or bool(TIMED.search(name or ""))


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        if math.isnan(a) and math.isnan(b):
            return True
        return a == b
    return a == b


def cmp(a, b, path, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{path}/{k}: only in {'B' if k not in a else 'A'}")
                continue
            cmp(a[k], b[k], f"{path}/{k}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: length {len(a)} vs {len(b)}")
            return
        for i, (x, y) in enumerate(zip(a, b)):
            cmp(x, y, f"{path}[{i}]", out)
    elif not same(a, b):
        out.append(f"{path}: {a!r} vs {b!r}")


def main():
    A, B = (json.load(open(p)) for p in sys.argv[1:3])
    out = []
    for k in sorted(set(A) | set(B)):
        if k in IGNORED:
            continue
        if k not in A or k not in B:
            out.append(f"{k}: only in {'B' if k not in A else 'A'}")
            continue
        a, b = A[k], B[k]
        if k == "metrics":
            for m in sorted(set(a) | set(b)):
                if m not in a or m not in b:
                    out.append(f"metrics/{m}: only in {'B' if m not in a else 'A'}")
                elif not timed(m, a[m].get("unit")):
                    cmp(a[m], b[m], f"metrics/{m}", out)
        elif k == "series":
            na, nb = [s["name"] for s in a], [s["name"] for s in b]
            if na != nb:
                out.append(f"series names differ: {na} vs {nb}")
            for sa, sb in zip(a, b):
                if not timed(sa["name"]) and not timed(sa.get("ylabel")):
                    cmp(sa, sb, f"series/{sa['name']}", out)
        elif k == "tables":
            for t in sorted(set(a) | set(b)):
                if t not in a or t not in b:
                    out.append(f"tables/{t}: only in {'B' if t not in a else 'A'}")
                    continue
                ta, tb = a[t], b[t]
                cmp(ta["columns"], tb["columns"], f"tables/{t}/columns", out)
                keep = [i for i, c in enumerate(ta["columns"]) if not timed(c)]
                if len(ta["rows"]) != len(tb["rows"]):
                    out.append(f"tables/{t}: {len(ta['rows'])} vs {len(tb['rows'])} rows")
                    continue
                for r, (ra, rb) in enumerate(zip(ta["rows"], tb["rows"])):
                    cmp([ra[i] for i in keep], [rb[i] for i in keep], f"tables/{t}[{r}]", out)
        elif k == "notes" or k == "summary":
            # notes may quote timings; compare with numbers followed by " s" masked
            mask = lambda s: re.sub(r"\d+(\.\d+)?\s?(s|min)\b", "#s", s or "")
            if mask(a) != mask(b):
                out.append(f"{k} differ:\n  A: {a}\n  B: {b}")
        else:
            cmp(a, b, k, out)
    for line in out:
        print(line)
    return 1 if out else 0


if __name__ == "__main__":
    sys.exit(main())
