"""
===========================================
5. Single-layer vs MLP vs CNN, side by side
===========================================

:func:`perceptron.compare` trains several models on the same train/test
split and measures each: test accuracy, training time, prediction time,
number of parameters. It uses the project's standard configuration of each
model (the one the command line and the benchmarks use), which
:func:`perceptron.compare.make_estimator` returns if you want to look at it
or change it.
"""

# %%
# The three standard models
# -------------------------
# On the 8x8 digits: a perceptron, an MLP with one hidden layer of 100 units
# (both for up to 200 epochs) and a CNN with two "same"-padded convolution
# blocks of 32 and 64 filters (up to 100 epochs). Each stops by itself once
# its training loss no longer improves.
import matplotlib.pyplot as plt

from perceptron import compare
from perceptron.compare import format_comparison, make_estimator

for name in ("perceptron", "mlp", "cnn"):
    print(make_estimator(name, "digits"))

# %%
# One call trains and evaluates all three. The times are wall-clock seconds
# on the machine that built this page, so they are only comparable with
# each other.
rows = compare(["perceptron", "mlp", "cnn"], dataset="digits")
print(format_comparison(rows))

# %%
# The same numbers as a picture: what each model buys in accuracy for its
# cost in training time.
fig, (ax_acc, ax_time) = plt.subplots(1, 2, figsize=(8, 3))
names = [row["model"] for row in rows]
ax_acc.bar(names, [100 * row["accuracy"] for row in rows], color="tab:blue")
ax_acc.set_ylim(80, 100)
ax_acc.set_ylabel("test accuracy (%)")
ax_time.bar(names, [row["fit_time"] for row in rows], color="tab:orange")
ax_time.set_ylabel("training time (s)")
for ax in (ax_acc, ax_time):
    ax.grid(axis="y", alpha=0.3)
fig.tight_layout()
plt.show()

# %%
# Reading the table
# -----------------
# * The perceptron has the fewest parameters (64 x 10 + 10) and trains
#   fastest, and is the least accurate: one template per class.
# * The MLP's hidden layer buys a few points of accuracy at a modest cost.
# * The CNN spends far more arithmetic per image (every filter visits every
#   pixel), so it trains slowest. On 8x8 images its advantage is small or
#   absent: there is little spatial structure to exploit in 64 pixels.
#
# Numbers from a single split and a single seed move by a few test images
# between runs; for a careful comparison use cross-validation, as in the
# previous tutorial.
#
# On 28x28 images
# ---------------
# The same call on MNIST or Fashion-MNIST (downloaded, or found locally, see
# :ref:`get_data`) shows the classic ranking much more clearly: the CNN pulls
# ahead of the MLP, which pulls ahead of the perceptron. It takes minutes
# rather than seconds, so it is not run while building these pages:
#
# .. code-block:: python
#
#     rows = compare(dataset="fashion-mnist", epochs=5)
#     print(format_comparison(rows))
#
# or, from a shell, ``perceptron compare --dataset fashion-mnist --epochs 5``.
# You can also pass your own estimators instead of names:
# ``compare([MLPDigitClassifier(hidden_layer_sizes=(32,)), "mlp"])``.
