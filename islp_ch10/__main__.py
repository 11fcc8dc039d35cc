"""``python -m islp_ch10 ...``: the ``islp-ch10`` command (:func:`islp_ch10.cli.main`)."""

import sys

from islp_ch10.cli import main

if __name__ == "__main__":
    sys.exit(main())
