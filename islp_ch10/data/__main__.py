"""``python -m islp_ch10.data download NAME [--root DIR]``: fetch a data set (network needed)."""

import argparse
import sys

from . import DATASETS, data_root, download


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m islp_ch10.data")
    sub = parser.add_subparsers(dest="cmd", required=True)
    dl = sub.add_parser("download", help="download a data set, checking its digests")
    dl.add_argument("name", choices=sorted(DATASETS))
    dl.add_argument("--root", default=None, help="destination (default: $ISLP_CH10_DATA or the user cache)")
    args = parser.parse_args(argv)
    for path in download(args.name, args.root):
        print(path)
    print(f"done; data root {args.root or data_root()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
