"""``python -m islp_ch10.data download NAME [--root DIR]``: the same command as ``islp-ch10 download``.

Both go through :func:`islp_ch10.cli.cmd_download` (one download path, one error handling)."""

import sys


def main(argv=None) -> int:
    """Run ``islp-ch10 download ...`` (or ``data``) with these arguments."""
    from islp_ch10.cli import main as cli_main

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("download", "data", "-h", "--help"):
        print("usage: python -m islp_ch10.data download NAME [--root DIR] | data", file=sys.stderr)
        return 2
    return cli_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
