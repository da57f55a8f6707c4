"""Where MNIST and Fashion-MNIST come from: file names, mirrors, checksums.

Everything here is read at call time, so tests (or users behind a local
mirror) can replace these module attributes, e.g. with ``monkeypatch``.
"""

# The four standard files of an MNIST-format dataset, by subset:
# (images, labels). Uncompressed copies without ``.gz`` are accepted too.
FILENAMES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
ALL_FILENAMES = FILENAMES["train"] + FILENAMES["test"]

# Mirrors are tried in order; a file's URL is the mirror followed by its name.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

# SHA-256 of the original gzip files (9912422, 28881, 1648877 and 4542
# bytes). Source: TensorFlow Datasets, tensorflow_datasets/url_checksums/
# mnist.txt (the cvdf-datasets mirror); the same digests are pinned by many
# other projects for yann.lecun.com and the ossci-datasets mirror, together
# with torchvision's MD5s (f68b3c2d..., d53e105e..., 9fb629c4..., ec29112d...).
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

FASHION_MNIST_MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)

# SHA-256 of the original gzip files (26421880, 29515, 4422102 and 5148
# bytes; MD5s 8d4fb7e6..., 25c81989..., bef4ecab..., bb300cfd... as in the
# zalandoresearch/fashion-mnist README). Source: TensorFlow Datasets,
# tensorflow_datasets/url_checksums/fashion_mnist.txt, cross-checked with
# other projects pinning the same digests. Debian's copies are re-compressed
# (23-24 bytes smaller) and so do not match; local files are checked by the
# IDX parser instead, checksums apply to downloads only.
FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}

# Debian's dataset-fashion-mnist package installs the four files here; they
# are used in place, without copying them into the data home.
DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
