"""Short descriptions of the datasets, returned as ``DESCR``.

Kept as Python strings rather than data files so they ship with any build.
"""

DIGITS = """\
.. _digits_dataset:

Optical recognition of handwritten digits (scikit-learn's ``load_digits``)
--------------------------------------------------------------------------

1797 images of 8x8 pixels, 10 classes (digits 0-9, about 180 each). Each pixel
counts the "on" cells of a 4x4 block of a 32x32 bitmap, an integer in 0..16.
Bundled with scikit-learn: no download needed.

perceptron's standard split (``subset="train"``/``"test"``) is fixed:
``train_test_split(test_size=0.2, random_state=0, stratify=target)``,
1437 training and 360 test images with the class proportions of the whole.

Source: UCI ML repository, E. Alpaydin and C. Kaynak (1998).
"""

MNIST = """\
.. _mnist_dataset:

MNIST handwritten digits
------------------------

70000 grayscale images of 28x28 pixels (60000 training, 10000 test) of the
handwritten digits 0-9, size-normalized and centered. Pixels are 0..255
(0 is background).

Files: train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (IDX format).

Source: Y. LeCun, C. Cortes and C. J. C. Burges, "The MNIST database of
handwritten digits".
"""

FASHION_MNIST = """\
.. _fashion_mnist_dataset:

Fashion-MNIST
-------------

70000 grayscale images of 28x28 pixels (60000 training, 10000 test) of
Zalando article pictures in 10 classes: T-shirt/top, Trouser, Pullover,
Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot. A drop-in replacement
for MNIST with the same file names and format, and a harder problem.

Source: H. Xiao, K. Rasul and R. Vollgraf, "Fashion-MNIST: a Novel Image
Dataset for Benchmarking Machine Learning Algorithms", arXiv:1708.07747
(2017). MIT license.
"""
