"""``islp-ch10 download`` and ``islp-ch10 data``: fetching the data sets and saying where they are.

The command line (:mod:`islp_ch10.cli`) parses the options and calls these; every failure is a
:class:`~islp_ch10.errors.CLIError` with its exit code.
"""

from __future__ import annotations

from islp_ch10 import errors
from islp_ch10.errors import CLIError, UsageError
from islp_ch10.outdir import out_folder, writable_folder


def cmd_download(args) -> int:
    """``islp-ch10 download NAME`` (also ``python -m islp_ch10 download NAME``): the one download path.

    ``all`` goes on past a data set that fails, reports each, and exits with the worst code."""
    from islp_ch10 import data

    choices = sorted(data.DATASETS)
    if args.name != "all" and args.name not in data.DATASETS:
        raise UsageError(f"unknown data set {args.name!r}; choose one of {', '.join(choices)} or all")
    root = out_folder(args.root, data.data_root(), "--root")
    writable_folder(root, "data folder", f"pass another --root or set {data.DATA_ENV}")
    names = choices if args.name == "all" else [args.name]
    failed: dict[str, CLIError] = {}
    for name in names:
        print(f"downloading {name} into {root} ...", flush=True)
        try:
            for path in data.download(name, root=root):
                print(f"    {path}", flush=True)
        except Exception as exc:
            err = _download_error(exc)
            if len(names) == 1:
                raise err from exc
            print(f"    failed (exit {err.code}): {err}", flush=True)
            failed[name] = err
    if failed:
        worst = max(e.code for e in failed.values())
        listed = ", ".join(f"{n} (exit {e.code})" for n, e in failed.items())
        raise CLIError(f"{len(failed)} of {len(names)} data sets failed: {listed}; see the lines above", worst)
    return 0


def _download_error(exc: Exception) -> CLIError:
    if isinstance(exc, OSError) and exc.errno is None:  # every mirror failed: the network, not a file
        msg = f"{exc}; check the network connection, or copy the files by hand (README 'Data')"
        return errors.StorageError(msg)
    return errors.classify(exc)


def cmd_data(args) -> int:
    """Where the data is looked for, and each data set the download table knows (and ISLP ships):
    present, missing (with how to get it), corrupt or unreadable."""
    from islp_ch10 import data

    print(f"data root: {data.data_root()}  (set {data.DATA_ENV} to change)")
    print(f"cache:     {data.cache_dir()}  (set {data.CACHE_ENV} to change)")
    for name, check in data.PRESENCE.items():
        try:
            check()
            print(f"  {name:12s} present")
        except data.DataMissing as exc:
            print(f"  {name:12s} missing: {exc}")
        except (data.ChecksumError, data.DataFormatError) as exc:
            print(f"  {name:12s} corrupt: {exc}")
        except OSError as exc:
            print(f"  {name:12s} unreadable: {errors.describe_os_error(exc)}")
    print(f"download names: {', '.join(sorted(data.DATASETS))}, all")
    return 0
