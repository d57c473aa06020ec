"""Make the README's preview of the demo report: pages of reports/microgrid_8.pdf side by side, as one PNG.

Run after `make demo`:  .venv/bin/python scripts/report_preview.py [PDF] [OUT.png] [--pages 3,6,7]
Needs pdftoppm (poppler-utils, installed by `make setup`).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pdf", nargs="?", type=Path, default=Path("reports/microgrid_8.pdf"))
    parser.add_argument("output", nargs="?", type=Path, default=Path("docs/images/report_preview.png"))
    parser.add_argument("--pages", default="3,6,7", help="comma-separated page numbers (default 3,6,7)")
    parser.add_argument("--dpi", type=int, default=72)
    args = parser.parse_args()
    if not args.pdf.exists():
        print(f"error: {args.pdf} does not exist; run 'make demo' first", file=sys.stderr)
        return 2
    images = []
    with tempfile.TemporaryDirectory() as tmp:
        for page in (int(p) for p in args.pages.split(",")):
            prefix = Path(tmp) / f"page{page}"
            subprocess.run(["pdftoppm", "-r", str(args.dpi), "-png", "-singlefile", "-f", str(page), "-l", str(page),
                            str(args.pdf), str(prefix)], check=True)
            images.append(np.asarray(Image.open(prefix.with_suffix(".png")).convert("RGB")))
    height = max(image.shape[0] for image in images)
    gap = np.full((height, 12, 3), 200, dtype=np.uint8)
    row = []
    for image in images:
        padded = np.full((height, image.shape[1], 3), 255, dtype=np.uint8)
        padded[: image.shape[0]] = image
        row += [padded, gap]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(row[:-1], axis=1)).save(args.output, optimize=True)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
