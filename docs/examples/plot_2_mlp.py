"""
===========================================================
2. Multi-layer perceptron: hidden layers, dropout, mistakes
===========================================================

A hidden layer sits between the pixels and the outputs. Its units learn
their own features (strokes, loops, corners), and the output layer combines
them, so a class no longer needs to look like one single template. This
tutorial trains :class:`~perceptron.MLPDigitClassifier` and looks at the
things you tune: the size of the hidden layers, the activation, dropout, and
how to tell from the learning curves and the confusion matrix whether it
worked.
"""

# %%
# A first MLP
# -----------
# One hidden layer of 64 ReLU units: 64 x 64 + 64 weights and biases into the
# hidden layer, 64 x 10 + 10 out of it.
import warnings

import matplotlib.pyplot as plt
from sklearn.exceptions import ConvergenceWarning

from perceptron import MLPDigitClassifier
from perceptron.datasets import load_dataset
from perceptron.plotting import (plot_confusion_matrix, plot_learning_curves,
                                 plot_misclassified, plot_weights)

# We train for a fixed, small number of epochs on purpose, so the
# "not converged yet" warning would only add noise here.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X_train, X_test, y_train, y_test = load_dataset("digits")

mlp = MLPDigitClassifier(hidden_layer_sizes=(64,), max_iter=60, random_state=0)
mlp.fit(X_train, y_train)
print([w.shape for w in mlp.coefs_])
print(f"test accuracy: {mlp.score(X_test, y_test):.3f}")

# %%
# The learning curves
# -------------------
# ``loss_curve_`` holds the mean training loss of each epoch and
# ``train_scores_`` the training accuracy. The loss falls fast at first, then
# slowly: most of the learning happens in the first few epochs.
plot_learning_curves(mlp)
plt.show()

# %%
# What the hidden units look at
# -----------------------------
# As for the perceptron, each hidden unit's incoming weights form an 8x8
# image. These are no longer digit templates but pieces of digits: parts of
# strokes, edges, blobs. Each is useful to several classes.
plot_weights(mlp, max_units=16)
plt.show()

# %%
# Activations and depth
# ---------------------
# ``activation`` sets the non-linearity of the hidden layers; a tuple of
# sizes stacks several layers. With ``"identity"`` the whole network
# collapses into one linear map, i.e. a perceptron with extra steps: on these
# easy 8x8 digits a linear model is already good, so the gaps are a few test
# images (one image is 0.28% of the 360), and they widen on harder data such
# as MNIST. Look at the training loss too: it tells how well each variant
# can fit the data at all.
settings = [
    dict(hidden_layer_sizes=(64,), activation="relu"),
    dict(hidden_layer_sizes=(64,), activation="tanh"),
    dict(hidden_layer_sizes=(64,), activation="logistic"),
    dict(hidden_layer_sizes=(64,), activation="identity"),
    dict(hidden_layer_sizes=(128, 64), activation="relu"),
]
for params in settings:
    model = MLPDigitClassifier(max_iter=60, random_state=0, **params).fit(X_train, y_train)
    print(f"{str(params['hidden_layer_sizes']):>10} {params['activation']:>9}: "
          f"test accuracy {model.score(X_test, y_test):.3f}, "
          f"final training loss {model.loss_:.4f}")

# %%
# Dropout against overfitting
# ---------------------------
# A wide network can memorise its 1437 training images: trained long enough,
# its training accuracy reaches 100% and the test accuracy stops improving.
# ``dropout=0.5`` switches off a random half of the hidden units at every
# training step (the others are scaled up to compensate; nothing is dropped
# when predicting), so no unit can count on any particular other one. Compare
# the test accuracies:
for rate in (0.0, 0.5):
    model = MLPDigitClassifier(hidden_layer_sizes=(256,), dropout=rate, max_iter=150,
                               random_state=0).fit(X_train, y_train)
    print(f"dropout {rate}: train {model.score(X_train, y_train):.3f}, "
          f"test {model.score(X_test, y_test):.3f}")

# %%
# Early stopping
# --------------
# ``early_stopping=True`` holds out 10% of the training images, measures the
# accuracy on them after every epoch, stops when it has not improved for
# ``n_iter_no_change`` epochs and keeps the weights of the best epoch. The
# curves then include the validation accuracy:
early = MLPDigitClassifier(hidden_layer_sizes=(256,), early_stopping=True, max_iter=150,
                           random_state=0).fit(X_train, y_train)
print(f"stopped after {early.n_iter_} epochs, best validation accuracy "
      f"{early.best_validation_score_:.3f}, test accuracy {early.score(X_test, y_test):.3f}")
plot_learning_curves(early)
plt.show()

# %%
# On a training set this small, early stopping is a trade-off rather than a
# free gain: the model learns from 10% fewer images, and a validation set of
# 144 images is a noisy judge (one image is 0.7% of it). It pays off when
# data is plentiful and epochs are expensive, as on MNIST.

# %%
# Which digits get confused?
# --------------------------
# The confusion matrix counts, for each true digit (row), how often each
# digit was predicted (column). Off the diagonal are the mistakes.
plot_confusion_matrix(mlp, X_test, y_test)
plt.show()

# %%
# And the misclassified images themselves, with the true label, the
# prediction and its probability. Many are hard even for a person at 8x8
# pixels.
plot_misclassified(mlp, X_test, y_test, n=12)
plt.show()
