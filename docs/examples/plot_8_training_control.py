"""
==================================================================
8. Training you can watch and steer: validation, callbacks, Ctrl-C
==================================================================

A network large enough to learn its training set by heart will do so: it
*overfits*, and what it says about new images grows less trustworthy. This
tutorial makes an MLP overfit a slice of Fashion-MNIST on purpose, watches
it happen on a validation set, then steers training with callbacks
(:mod:`perceptron.callbacks`): stop at the best epoch and get its weights
back, save checkpoints, follow a cosine learning-rate schedule, and resume
from a checkpoint with ``partial_fit``.

It uses 4000 training images so that it runs in about a minute; every
number printed below comes from the run that built this page.
"""

# %%
# A validation set
# ----------------
# Fashion-MNIST: 28x28 grey images of clothes in 10 classes. We keep 4000
# training images, hold out 2000 others (from the same training split) as a
# validation set, and keep 2000 test images for the end.
import os
import tempfile
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss

import perceptron
from perceptron import MLPDigitClassifier
from perceptron.callbacks import EarlyStopping, LearningRateScheduler, ModelCheckpoint
from perceptron.datasets import load_dataset
from perceptron.plotting import plot_learning_curves

# runs of a fixed number of epochs end with a "not converged" warning: noise here
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X_all, X_test_all, y_all, y_test_all = load_dataset("fashion-mnist")
rng = np.random.default_rng(0)
rows = rng.permutation(len(y_all))
X_train, y_train = X_all[rows[:4000]], y_all[rows[:4000]]
X_val, y_val = X_all[rows[4000:6000]], y_all[rows[4000:6000]]
test = rng.permutation(len(y_test_all))[:2000]
X_test, y_test = X_test_all[test], y_test_all[test]
print(X_train.shape, X_val.shape, X_test.shape)

# %%
# Overfitting, seen in the validation curve
# -----------------------------------------
# Two hidden layers of 512 units: 670,000 weights for 4000 images, and no
# regularisation (``alpha=0``). ``fit(X, y, X_val=..., y_val=...)``
# measures the validation loss and accuracy after every epoch; everything
# is recorded in ``history_``, one entry per epoch.
big = MLPDigitClassifier(hidden_layer_sizes=(512, 512), alpha=0.0, max_iter=30,
                         random_state=0)
big.fit(X_train, y_train, X_val=X_val, y_val=y_val)
history = big.history_
print(list(history))
best = int(np.argmin(history["val_loss"]))
print(f"lowest validation loss {history['val_loss'][best]:.3f} at epoch {best + 1}; "
      f"after epoch {big.n_iter_}: {history['val_loss'][-1]:.3f}")
print(f"training loss after epoch {big.n_iter_}: {history['loss'][-1]:.4f}, "
      f"training accuracy {history['score'][-1]:.3f}")


def test_figures(model):
    """Accuracy and log loss on the test images."""
    loss = log_loss(y_test, model.predict_proba(X_test), labels=model.classes_)
    return f"test accuracy {model.score(X_test, y_test):.3f}, test loss {loss:.3f}"


print(f"the last epoch's weights: {test_figures(big)}")

# %%
# The training loss falls towards zero, epoch after epoch. The validation
# loss falls for a few epochs, then turns and climbs: from there on, the
# network learns the training images themselves rather than what makes a
# shirt a shirt, and grows ever more confident -- in its mistakes on new
# images too, which is what the loss measures. The validation accuracy
# hardly moves after the turn: the extra epochs buy nothing.
plot_learning_curves(big)
plt.show()

# %%
# EarlyStopping: stop at the turn, keep the best weights
# ------------------------------------------------------
# :class:`~perceptron.callbacks.EarlyStopping` watches ``"val_loss"`` and
# stops training after ``patience`` epochs without improvement. With
# ``restore_best_weights=True`` (the default) it then puts back the weights
# of the best epoch. :class:`~perceptron.callbacks.ModelCheckpoint` saves
# the model each time the validation loss reaches a new low, in the
# package's pickle-free format.
folder = tempfile.mkdtemp()
stopper = EarlyStopping(monitor="val_loss", patience=4)
checkpoint = ModelCheckpoint(os.path.join(folder, "best.npz"), monitor="val_loss")
early = MLPDigitClassifier(hidden_layer_sizes=(512, 512), alpha=0.0, max_iter=30,
                           random_state=0, callbacks=[stopper, checkpoint])
early.fit(X_train, y_train, X_val=X_val, y_val=y_val)
print(f"stopped after epoch {stopper.stopped_epoch_ + 1}; best epoch "
      f"{stopper.best_epoch_ + 1} (validation loss {stopper.best_:.3f})")
print(f"the restored best weights: {test_figures(early)}")
print(f"the checkpoint holds epoch {perceptron.load(checkpoint.path_).n_iter_}")

# %%
# The callbacks are the objects we passed in: their results (``best_epoch_``,
# ``stopped_epoch_``, ``path_``) are read on them, as in Keras and skorch.
# Each built-in callback resets itself when a fit begins, so the same
# objects can serve another fit. The run stopped long before ``max_iter``,
# and the weights it returns are those of the best validation epoch, not
# of the last one: compare their test figures with the overfitted model's
# above.

# %%
# A cosine learning-rate schedule
# -------------------------------
# :class:`~perceptron.callbacks.LearningRateScheduler` sets the step size of
# each epoch. The cosine schedule starts at ``learning_rate_init`` and
# glides to zero at epoch ``max_iter``: large steps early, small careful
# ones at the end. The step size each epoch used lands in
# ``history_["lr"]``.
cosine = MLPDigitClassifier(hidden_layer_sizes=(512, 512), alpha=0.0, max_iter=12,
                            random_state=0, callbacks=[LearningRateScheduler("cosine")])
cosine.fit(X_train, y_train, X_val=X_val, y_val=y_val)
print("step sizes:", " ".join(f"{lr:.2e}" for lr in cosine.history_["lr"]))
print(f"validation loss after {cosine.n_iter_} epochs: {cosine.history_['val_loss'][-1]:.3f} "
      f"(constant step size: {big.history_['val_loss'][cosine.n_iter_ - 1]:.3f})")
print(f"cosine schedule: {test_figures(cosine)}")

fig, (ax_lr, ax_val) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
epochs = np.arange(1, cosine.n_iter_ + 1)
ax_lr.plot(epochs, cosine.history_["lr"], marker="o")
ax_lr.set(title="Step size (cosine)", xlabel="epoch", ylabel="learning rate")
ax_val.plot(epochs, big.history_["val_loss"][:cosine.n_iter_], label="constant")
ax_val.plot(epochs, cosine.history_["val_loss"], label="cosine")
ax_val.set(title="Validation loss", xlabel="epoch", ylabel="loss")
ax_val.legend()
plt.show()

# %%
# Resuming from a checkpoint with ``partial_fit``
# -----------------------------------------------
# A checkpoint is a complete model: :func:`perceptron.load` gives back the
# weights, the optimizer's state, the random streams and ``history_``, so
# training goes on exactly where it was. Here we resume from the best
# epoch of the early-stopped run, with a ten times smaller step size for
# the fine-tuning, one ``partial_fit`` (one epoch) at a time.
resumed = perceptron.load(checkpoint.path_)
print(f"loaded: {resumed.n_iter_} epochs, {len(resumed.history_['loss'])} rows of history")
resumed.set_params(callbacks=[LearningRateScheduler(lambda epoch, lr: 1e-4)])
for _ in range(3):
    resumed.partial_fit(X_train, y_train)
    print(f"epoch {resumed.n_iter_}: training loss {resumed.loss_:.4f}, step size "
          f"{resumed.history_['lr'][-1]:.0e}, validation accuracy "
          f"{resumed.score(X_val, y_val):.3f}")
print(f"after fine-tuning: {test_figures(resumed)}")

# %%
# ``partial_fit`` appends to ``history_`` (without validation figures: it
# takes no validation set, so those entries are NaN). The callbacks follow
# a run of ``partial_fit`` calls epoch by epoch; see :ref:`training`.
#
# Stopping by hand: Ctrl-C
# ------------------------
# Pressing Ctrl-C during ``fit`` stops training at the end of the current
# mini-batch: a warning says where, ``fit`` returns, and the estimator holds
# the weights of that moment with ``n_iter_``, ``t_`` and ``history_``
# counting exactly what they have seen; it can predict, be saved or go on
# training. During ``partial_fit``, Ctrl-C undoes the call and the
# interrupt reaches your loop. And if training fails (the loss diverges, a
# callback raises), ``fit`` and ``partial_fit`` leave the estimator exactly
# as it was before the call.
