"""islp-ch10: the claims of ISLP chapter 10 (Deep Learning) as executable tests.

Modules: ``models`` (the chapter's networks), ``reference`` (numpy-only from-scratch
computations that check the torch code), ``data`` (verified loaders for the real data sets),
``training`` (Lightning training, the book's ISLP path and a fast in-memory path),
``experiments`` (one function per empirical claim), ``claims`` (the catalogue),
``report`` and ``cli``.
"""

__version__ = "0.1.0"
