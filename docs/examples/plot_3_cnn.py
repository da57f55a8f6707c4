"""
============================================================
3. Convolutional network: filters, feature maps and mistakes
============================================================

A dense layer treats an image as a list of unrelated pixels: shift a digit
by one pixel and every input changes. A convolution slides one small kernel
over the whole image instead, so a pattern learned in one place is found
everywhere. This tutorial trains :class:`~perceptron.ConvDigitClassifier` on
the 8x8 digits and opens it up: the learned filters, what they respond to
in one image, and where the network still fails.
"""

# %%
# The network
# -----------
# Two blocks of (3x3 convolution, ReLU, 2x2 max-pooling), then a dense layer
# of 64 units and the output layer. ``padding="same"`` pads each image with a
# border of zeros so that a 3x3 convolution keeps the 8x8 size (without it,
# each convolution would trim one pixel all around, and a third block would
# not fit). The shapes, per image, height x width x channels::
#
#     8x8x1  --conv 16 filters-->  8x8x16  --pool-->  4x4x16
#            --conv 32 filters-->  4x4x32  --pool-->  2x2x32
#            --flatten-->  128  --dense-->  64  --dense-->  10
import warnings

import matplotlib.pyplot as plt
from sklearn.exceptions import ConvergenceWarning

from perceptron import ConvDigitClassifier
from perceptron.datasets import load_dataset
from perceptron.plotting import (plot_feature_maps, plot_filters, plot_learning_curves,
                                 plot_misclassified)

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # few epochs on purpose

X_train, X_test, y_train, y_test = load_dataset("digits")

cnn = ConvDigitClassifier(conv_layers=((16, 3), (32, 3)), padding="same",
                          dense_layers=(64,), max_iter=30, random_state=0)
cnn.fit(X_train, y_train)
print("image shape:", cnn.image_shape_, "(channels, height, width), inferred from 64 pixels")
print("filters:", [f.shape for f in cnn.filters_], "(filters, height, width, channels)")
weights = cnn.filters_ + cnn.conv_intercepts_ + cnn.coefs_ + cnn.intercepts_
print("parameters:", sum(w.size for w in weights))
print(f"test accuracy: {cnn.score(X_test, y_test):.3f}")

# %%
# The default, without ``conv_layers`` and ``padding``, is the network of
# the Keras/TensorFlow tutorial for 28x28 images: three 3x3 convolutions with
# 32, 64 and 64 filters, each followed by 2x2 max-pooling, here with "same"
# padding so that 3x3x64 features reach the dense layer. Use it on MNIST or
# Fashion-MNIST.
#
# Learning curves, as for the MLP:
plot_learning_curves(cnn)
plt.show()

# %%
# The filters of the first layer
# ------------------------------
# Each first-layer filter is a 3x3 grid of weights applied to every 3x3 patch
# of the image. Red weights respond to ink, blue ones to its absence: many
# filters are small edge and stroke detectors (ink on one side, background
# on the other), in various orientations.
plot_filters(cnn, layer=0)
plt.show()

# %%
# Feature maps
# ------------
# Running one test image through the first convolution gives 16 *feature
# maps*: each shows where in the image its filter found its pattern (after
# the ReLU, so only positive responses remain). Maps of different filters
# light up on different strokes of the same digit.
x = X_test[3]
fig, ax = plt.subplots(figsize=(2, 2))
ax.imshow(x.reshape(8, 8), cmap="gray_r")
ax.set_title(f"input: a {y_test[3]}")
ax.axis("off")

plot_feature_maps(cnn, x, layer=0)
plt.show()

# %%
# The second convolution looks at 3x3 patches of the *pooled* first-layer
# maps: each of its units sees an 8x8 region of the input (3 pixels, widened
# by the pooling and the second 3x3 kernel), here the whole digit, and
# combines the 16 stroke detectors into larger shapes. Its maps are 4x4, coarser and
# harder to interpret, which is typical of deeper layers.
plot_feature_maps(cnn, x, layer=1)
plt.show()

# %%
# ``feature_maps`` returns the same arrays for any batch of images, for your
# own plots: shape ``(n_images, height, width, n_filters)``.
print(cnn.feature_maps(X_test[:5], layer=0).shape)

# %%
# What it still gets wrong
# ------------------------
# The misclassified test images, each with its true label, the prediction
# and the predicted probability:
plot_misclassified(cnn, X_test, y_test, n=12)
plt.show()

# %%
# On 8x8 images there is little room for spatial structure, so the CNN does
# not clearly beat the MLP here: it cannot show its strength until the images
# are larger. The comparison tutorial puts the three models side by side.
