#!/usr/bin/env python3
"""Decode the QR benchmark images with zxing-cpp, as a yardstick for shared::qr.

Usage: python3 shared/benches/zxing_decode.py target/qr-bench

Reads DIR/manifest.tsv (file name, a tab, the expected text; written by
`cargo bench -p shared --bench qr_decode`), reads each image with Pillow and
zxing-cpp (QR codes only, library defaults otherwise: try-rotate,
try-downscale, try-invert, local-average binariser), and prints one line per
image and then one JSON summary line:

  {"decoder": "zxing-cpp", "n": 40, "ok": 31, "mean_ms": 7.1, "p95_ms": 12.0,
   "decode_mean_ms": 5.9, "ok_files": ["p00.png", ...]}

mean_ms and p95_ms time opening the PNG plus decoding (like shared's
decode_image, which also decodes the PNG); decode_mean_ms times the decode
alone. Each figure is the median of REPEATS runs per image.

Needs `pip install zxing-cpp pillow`; exits with status 3 and a note on
stderr when either is missing.
"""

import json
import statistics
import sys
import time
from pathlib import Path

REPEATS = 3


def p95(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} BENCH_DIR", file=sys.stderr)
        return 2
    try:
        import zxingcpp
        from PIL import Image
    except ImportError as e:
        print(f"zxing_decode: python module {e.name!r} is missing (pip install zxing-cpp pillow)",
              file=sys.stderr)
        return 3

    bench_dir = Path(argv[1])
    manifest = bench_dir / "manifest.tsv"
    entries = []
    for line in manifest.read_text(encoding="utf-8").splitlines():
        if line.strip():
            name, expected = line.split("\t", 1)
            entries.append((name, expected))

    total_ms, decode_ms, ok_files = [], [], []
    for name, expected in entries:
        path = bench_dir / name
        runs_total, runs_decode, texts = [], [], []
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            with Image.open(path) as img:
                img.load()
                t1 = time.perf_counter()
                results = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)
            t2 = time.perf_counter()
            runs_total.append((t2 - t0) * 1000.0)
            runs_decode.append((t2 - t1) * 1000.0)
            texts = [r.text for r in results]
        total_ms.append(statistics.median(runs_total))
        decode_ms.append(statistics.median(runs_decode))
        ok = expected in texts
        if ok:
            ok_files.append(name)
        print(f"{name}\t{'ok' if ok else 'MISS'}\t{total_ms[-1]:.1f} ms")

    summary = {
        "decoder": "zxing-cpp",
        "n": len(entries),
        "ok": len(ok_files),
        "mean_ms": round(statistics.fmean(total_ms), 2) if total_ms else 0.0,
        "p95_ms": round(p95(total_ms), 2) if total_ms else 0.0,
        "decode_mean_ms": round(statistics.fmean(decode_ms), 2) if decode_ms else 0.0,
        "ok_files": ok_files,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
