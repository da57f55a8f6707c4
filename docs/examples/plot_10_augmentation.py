"""
=======================================================
10. Augmentation: new training images from the old ones
=======================================================

A digit written a little higher, tilted, larger or with a shakier hand is
still the same digit, and a shirt seen in a mirror is still a shirt. A
network only learns that from examples; *augmentation* makes them: every
time a mini-batch is drawn, each of its images is moved by a fresh random
transform, so the network never sees exactly the same image twice and must
learn what does not change. Simard, Steinkraus and Platt (2003) brought
MNIST's error down this way, and Keras' ``RandomTranslation``/
``RandomRotation`` layers and torchvision's ``RandomAffine`` do the same.

:class:`~perceptron.MLPDigitClassifier` and
:class:`~perceptron.ConvDigitClassifier` take an ``augment`` dict, and
:func:`perceptron.preprocessing.augment_images` shows what it does, with
the same kernel.
"""

# %%
# One image under each transform
# ------------------------------
# A digit (scikit-learn's 8x8 digit made 28x28 by
# :class:`~perceptron.preprocessing.DigitImagePreprocessor`, as MNIST's were
# made) and a garment from Fashion-MNIST's test set. Each column applies one
# key of ``augment`` at a large magnitude, so that it shows:
#
# - ``shift``: up to that many pixels along each axis;
# - ``rotation``: up to that many degrees, either way;
# - ``zoom``: a scale factor in ``[1 - zoom, 1 + zoom]``;
# - ``shear``: up to that many degrees of slant;
# - ``flip``: half the images mirrored left-right (clothes, not digits: a
#   mirrored 2 is not a 2);
# - ``elastic``: ``(alpha, sigma)``, Simard et al.'s elastic distortion, a
#   random field of displacements of about ``alpha`` pixels, smoothed over
#   ``sigma`` pixels (their values for 28x28 digits: ``(34, 4)``).
#
# Every transform turns the image about its centre, and pixels coming from
# outside the image are black. Each transform is drawn afresh for every
# image: three draws of each, for each image.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from perceptron import ConvDigitClassifier
from perceptron.datasets import load_dataset, load_fashion_mnist
from perceptron.preprocessing import DigitImagePreprocessor, augment_images

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # few epochs on purpose

X_train, X_test, y_train, y_test = load_dataset("digits")
digit = DigitImagePreprocessor().fit_transform(X_test[[2]])  # a 28x28 digit
garment = load_fashion_mnist(subset="test").data[[0]]  # an ankle boot
draws = 3
images = np.repeat(np.vstack([digit, garment]), draws, axis=0)  # 3 digits, 3 boots

transforms = {
    "original": {},
    "shift 4": {"shift": 4},
    "rotation 30": {"rotation": 30},
    "zoom 0.3": {"zoom": 0.3},
    "shear 30": {"shear": 30},
    "flip": {"flip": True},
    "elastic (34, 4)": {"elastic": (34, 4)},
    "all at once": {"shift": 2, "rotation": 10, "zoom": 0.1, "shear": 10,
                    "elastic": (20, 4)},
}
fig, axes = plt.subplots(len(images), len(transforms), figsize=(1.2 * len(transforms), 7.6))
for col, (name, augment) in enumerate(transforms.items()):
    moved = augment_images(images, augment, random_state=0)
    for row, image in enumerate(moved):
        axes[row, col].imshow(image.reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        axes[row, col].set_xticks([])
        axes[row, col].set_yticks([])
    axes[0, col].set_title(name, fontsize=8)
fig.tight_layout(h_pad=0.3, w_pad=0.3)
plt.show()

# %%
# What the network sees
# ---------------------
# During training, each image of each mini-batch gets its own draw, from a
# seed that the estimator draws from its ``random_state`` once per batch.
# Sixteen draws of a milder recipe, the kind that helps in practice:
recipe = {"shift": 2, "rotation": 10, "zoom": 0.1, "elastic": (20, 4)}
batches = augment_images(np.repeat(digit, 16, axis=0), recipe, random_state=1)
fig, axes = plt.subplots(2, 8, figsize=(8, 2.2))
for ax, image in zip(axes.ravel(), batches):
    ax.imshow(image.reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("one digit, sixteen training batches", fontsize=10)
plt.show()

# %%
# Training with ``augment``
# -------------------------
# The 8x8 digits are small: a shift of one pixel moves an 8x8 digit by an
# eighth of its width, so the magnitudes are smaller than on 28x28 images.
# The same CNN, with and without augmentation, for 60 epochs: a network
# that sees new variants of every image at every epoch needs more of them
# to learn than one that sees the same images again.
cnn_args = dict(conv_layers=((32, 3), (64, 3)), dense_layers=(128,), dropout=0.4,
                batch_size=32, max_iter=60, random_state=0)
plain = ConvDigitClassifier(**cnn_args).fit(X_train, y_train)
augmented = ConvDigitClassifier(**cnn_args, augment={"shift": 0.5, "rotation": 10,
                                                     "zoom": 0.1}).fit(X_train, y_train)
for name, model in (("plain", plain), ("augmented", augmented)):
    print(f"{name:9}  training accuracy {model.train_scores_[-1]:.3f}  "
          f"test accuracy {model.score(X_test, y_test):.3f}")

# %%
# The training accuracy is counted on the batches the network was trained on:
# with augmentation those are harder (moved) images, so it is lower, while
# the test images are scored as they are. What augmentation buys is a
# smaller gap between the two, a network that leans less on where exactly
# the strokes fall. On 360 test images one fit is a noisy measurement (one
# image is 0.3 %): the benchmarks compare the two over several seeds, and
# train the CNN on Fashion-MNIST with ``flip``, shifts and a cosine
# step-size schedule (:class:`~perceptron.callbacks.LearningRateScheduler`);
# see :doc:`/benchmarks`.
#
# Validation (``early_stopping``) and prediction always see the images
# unchanged. With ``MLPDigitClassifier``, pass ``image_shape`` when the
# images are not square.
#
# How it runs
# -----------
# The transform is not a separate pass over the data: the kernel that gathers
# the shuffled rows of a mini-batch (``perceptron/_kernels/_augment.pyx``)
# computes, for each output pixel, where the transform takes it from, and
# reads the source image there, blending its four nearest pixels (bilinear
# interpolation). Shift, rotation, zoom, shear and flip combine into one
# 2x3 matrix per image; the elastic field is two random images smoothed by a
# Gaussian. The random numbers are a hash of the batch's seed and a counter
# (as dropout's masks are), so a batch is the same whichever thread draws
# which image: fits stay reproducible. The kernel's docstring derives the
# matrix and the smoothing.
