"""
======================================================
1. A single-layer perceptron and what its weights show
======================================================

The simplest neural network connects every pixel straight to one output unit
per class. Each unit computes a weighted sum of the pixels, so its weights
form an image of the same size as the input: a *template*. Training a
perceptron means learning ten templates, one per digit. Here we train one on
the 8x8 digits and look at them.
"""

# %%
# The data
# --------
# :func:`~perceptron.datasets.load_dataset` returns the project's fixed split
# of scikit-learn's digits: 1437 training and 360 test images, each a row of
# 64 pixels scaled to [0, 1].
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from perceptron import PerceptronClassifier
from perceptron.datasets import load_dataset
from perceptron.plotting import plot_predictions, plot_weights

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # fixed epochs on purpose

X_train, X_test, y_train, y_test = load_dataset("digits")
print(X_train.shape, X_test.shape)

fig, axes = plt.subplots(1, 10, figsize=(10, 1.4))
for digit, ax in enumerate(axes):
    ax.imshow(X_train[y_train == digit][0].reshape(8, 8), cmap="gray_r")
    ax.set_title(str(digit))
    ax.axis("off")

# %%
# Training
# --------
# The model has 64 x 10 weights and 10 biases. With the default softmax
# output it is multinomial logistic regression, trained here by Adam on
# mini-batches of 128 images for 100 epochs (passes over the training set).
clf = PerceptronClassifier(learning_rate_init=0.01, max_iter=100, random_state=0)
clf.fit(X_train, y_train)

print(f"weights: {clf.coefs_[0].shape}, biases: {clf.intercepts_[0].shape}")
print(f"training accuracy: {clf.score(X_train, y_train):.3f}")
print(f"test accuracy:     {clf.score(X_test, y_test):.3f}")

# %%
# Weights as images
# -----------------
# Column ``k`` of ``coefs_[0]`` holds the 64 weights of the unit for digit
# ``k``. Reshaped to 8x8, red pixels raise the score of that digit when they
# are inked, blue pixels lower it.
plot_weights(clf)
plt.show()

# %%
# These templates are noisy. Nothing asked the weights to be smooth or
# small: a pixel that happens to separate two classes in the training set
# can get a large weight, even if it would mean little to a person. An L2
# penalty (``alpha``) pulls every weight towards zero, so only pixels that
# matter consistently keep large weights. The templates become readable: the
# "0" is a red ring around a blue centre (ink there argues *against* a
# zero), the "7" a red top bar and diagonal. The price is a little accuracy:
# the penalty also flattens weights that were genuinely useful.
smooth = PerceptronClassifier(learning_rate_init=0.01, alpha=1.0, max_iter=100,
                              random_state=0).fit(X_train, y_train)
print(f"alpha=1.0: test accuracy {smooth.score(X_test, y_test):.3f}")
plot_weights(smooth)
plt.show()

# %%
# How the decision is made
# ------------------------
# For one test image, the score of each class is the sum of its pixels
# multiplied by that class's template, plus the bias. The class with the
# largest score wins. Recomputing it by hand gives the same answer as
# ``predict``:
x = X_test[0]
scores = x @ clf.coefs_[0] + clf.intercepts_[0]
print("scores:", np.round(scores, 1))
print("argmax:", scores.argmax(), " predict:", clf.predict(X_test[:1])[0],
      " true label:", y_test[0])

# %%
# The probabilities are the softmax of these scores:
proba = np.exp(scores - scores.max())
proba /= proba.sum()
print(np.allclose(proba, clf.predict_proba(X_test[:1])[0], atol=1e-5))

# %%
# Predictions on the first test images (red titles are mistakes):
plot_predictions(clf, X_test, y_test, n=16)
plt.show()

# %%
# The limit of one template per class
# -----------------------------------
# A few percent of the test images are still misclassified. A single template cannot
# describe a "7" with and without a crossbar, or a "4" written open and
# closed: the model can only draw a straight line (a hyperplane) between two
# classes in pixel space. The next tutorial adds hidden layers, which remove
# that limit.
