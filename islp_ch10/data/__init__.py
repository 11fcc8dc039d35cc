"""Verified, offline loaders for the real data sets of ISLP chapter 10.

Raw files live under :func:`data_root` (``$ISLP_CH10_DATA``; may be read-only) and every one is
digest-checked against :data:`KNOWN_FILES` before use; processed caches go to :func:`cache_dir`
(``$ISLP_CH10_CACHE``).  A loader never downloads: an absent file raises :class:`DataMissing`
saying how to get it.  :func:`download` is the only network path (``islp-ch10 download NAME``,
also ``python -m islp_ch10 download NAME``).  :func:`atomic_write` is :mod:`islp_ch10.fileio`'s,
re-exported here for the loaders' callers.

=====================  ==============================================================
``load_mnist``         MNIST tensors from the four IDX ``.gz`` files (10.2, lab 10.9.2)
``mnist_torchvision``  torchvision's ``MNIST`` data set built from the same files
``load_imdb``          IMDB bag-of-words and padded sequences from the raw reviews (10.4-10.5)
``load_nyse``          NYSE lagged design matrices, ``X_rnn`` (10.5, lab 10.9.6)
``load_hitters``       Hitters design matrix and the lab's split (lab 10.9.1)
``load_cifar100``      CIFAR-100 from the python pickles (10.3, lab 10.9.3)
``load_book_images``   the lab's six images, preprocessed for an ImageNet network
=====================  ==============================================================
"""

from islp_ch10.fileio import atomic_write

from . import imdb
from ._core import (
    CACHE_ENV,
    DATA_ENV,
    DATASETS,
    KNOWN_FILES,
    ChecksumError,
    DataFormatError,
    DataMissing,
    FileSpec,
    cache_dir,
    clear_hash_memo,
    data_root,
    download,
    download_file,
    fetch,
    file_digests,
    locate,
    verify,
)
from .images import (
    CIFARData,
    book_image_files,
    load_book_images,
    load_cifar100,
    load_imagenet_classes,
    preprocess_image,
    read_cifar100_archive,
    read_cifar100_folder,
)
from .imdb import (
    TOKENIZER_VERSION,
    IMDBData,
    bag_of_ngrams,
    bag_of_words,
    build_vocab,
    encode,
    load_imdb,
    ngrams,
    sequences,
    sparse_to_torch,
    to_dense_tensor,
    tokenize,
)
from .mnist import MNISTData, load_mnist, mnist_torchvision, parse_idx, read_idx
from .tabular import HittersData, NYSEData, lag_columns, load_hitters, load_nyse, nyse_features, rnn_columns

#: how ``islp-ch10 data`` checks that each data set is present and whole: every name
#: :data:`DATASETS` can download, plus the two the ISLP package ships (a test keeps them in step)
PRESENCE = {
    "mnist": load_mnist,
    "imdb": imdb.find_archive,
    "cifar100": load_cifar100,
    "imagenet": load_imagenet_classes,
    "book_images": book_image_files,
    "nyse": load_nyse,
    "hitters": load_hitters,
}

__all__ = [
    "CACHE_ENV",
    "DATASETS",
    "DATA_ENV",
    "KNOWN_FILES",
    "PRESENCE",
    "TOKENIZER_VERSION",
    "CIFARData",
    "ChecksumError",
    "DataFormatError",
    "DataMissing",
    "FileSpec",
    "HittersData",
    "IMDBData",
    "MNISTData",
    "NYSEData",
    "atomic_write",
    "bag_of_ngrams",
    "bag_of_words",
    "book_image_files",
    "build_vocab",
    "cache_dir",
    "clear_hash_memo",
    "data_root",
    "download",
    "download_file",
    "encode",
    "fetch",
    "file_digests",
    "lag_columns",
    "load_book_images",
    "load_cifar100",
    "load_hitters",
    "load_imagenet_classes",
    "load_imdb",
    "load_mnist",
    "load_nyse",
    "locate",
    "mnist_torchvision",
    "ngrams",
    "nyse_features",
    "parse_idx",
    "preprocess_image",
    "read_cifar100_archive",
    "read_cifar100_folder",
    "read_idx",
    "rnn_columns",
    "sequences",
    "sparse_to_torch",
    "to_dense_tensor",
    "tokenize",
    "verify",
]
