"""Summarise py-spy's collapsed stacks (``--format raw``): where the service's CPU time goes.

``python -m bench.profile FILE [--top N] [--match service/]`` prints the functions by inclusive and by
self time, as a share of all samples (py-spy samples only running threads, so this is CPU time).
"""

from __future__ import annotations

import argparse
import contextlib
import re
from collections import Counter
from pathlib import Path

_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")


def _frame(raw: str) -> str:
    """``func (path/file.py:12)`` → ``func (file path without line)``; site-packages shortened."""
    m = _FRAME.match(raw.strip())
    if not m:
        return raw.strip()
    path = m.group("file").split("site-packages/")[-1]
    return f"{m.group('func')} ({path})"


def load(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        m = _LINE.match(line)
        if m:
            stacks.append(([_frame(f) for f in m.group("stack").split(";")], int(m.group("count"))))
    return stacks


def summarize(path: Path, top: int = 25, match: str = "") -> dict[str, object]:
    stacks = load(path)
    total = sum(c for _, c in stacks) or 1
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for frames, count in stacks:
        for f in set(frames):
            inclusive[f] += count
        own[frames[-1]] += count

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        picked = [(f, c) for f, c in counter.most_common() if match in f][:top]
        return [(f, round(100 * c / total, 1)) for f, c in picked]

    return {"samples": total, "inclusive_pct": share(inclusive), "self_pct": share(own)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    p.add_argument("file", type=Path)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--match", default="", help="only frames containing this text (e.g. service/)")
    args = p.parse_args(argv)
    s = summarize(args.file, args.top, args.match)
    lines = [f"{s['samples']} samples"]
    for title in ("inclusive_pct", "self_pct"):
        lines.append(f"\n{title}:")
        lines += [f"  {pct:5.1f}%  {name}" for name, pct in s[title]]  # type: ignore[attr-defined]
    with contextlib.suppress(BrokenPipeError):  # piped into head
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
