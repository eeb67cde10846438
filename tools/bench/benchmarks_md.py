"""Write one benchmark's section of BENCHMARKS.md between its markers, leaving the others alone."""
from __future__ import annotations

import re
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "BENCHMARKS.md"
HEADER = ("# Benchmarks\n\nEvery figure below was made on the development machine (2 cores) by the command "
          "shown with it; `make bench` reruns them all.\n")


def write_section(area: str, markdown: str) -> None:
    begin, end = f"<!-- BEGIN {area} -->", f"<!-- END {area} -->"
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else HEADER
    block = f"{begin}\n{markdown.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    BENCHMARKS.write_text(text)
