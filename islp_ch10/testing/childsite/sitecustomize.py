"""Start-up hook for Python processes started by the islp-ch10 test suite.

The ``plugin_guard`` pytest plugin puts this folder first on ``PYTHONPATH`` and sets
``ISLP_CH10_SANDBOX=1``; every Python child of a test then runs this file at start-up (``site``
imports ``sitecustomize``) and installs the same sandbox as the test process.  ``sandbox.py`` is
loaded by path, so the child needs neither ``islp_ch10`` on its path nor the package's import
time.  Another ``sitecustomize`` further down the path still runs afterwards.
"""

import importlib.machinery
import importlib.util
import os
import sys


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_here = os.path.dirname(os.path.abspath(__file__))
if os.environ.get("ISLP_CH10_SANDBOX") == "1":
    _load("_islp_ch10_sandbox", os.path.join(os.path.dirname(_here), "sandbox.py")).install()

_rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]
_next = importlib.machinery.PathFinder.find_spec("sitecustomize", _rest)
if _next is not None and _next.origin and os.path.abspath(_next.origin) != os.path.abspath(__file__):
    _load("sitecustomize", _next.origin)
