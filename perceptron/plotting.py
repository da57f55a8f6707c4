"""Pictures of a digit classifier: errors, training, and what the network learned.

Every function draws with matplotlib's object API and returns the
:class:`~matplotlib.figure.Figure` it drew on; nothing is shown (call
``plt.show()`` or ``fig.savefig(...)`` yourself). Single-panel plots take an
``ax=`` to draw into; image galleries take a ``fig=`` (a Figure or SubFigure)
to add their grid of Axes to. Without them, a new pyplot figure is created,
sized to its content.

They work with this package's estimators and with scikit-learn's:

========================  =====================================================
function                  needs
========================  =====================================================
plot_confusion_matrix     ``predict`` (or ``y_true`` and ``y_pred``)
plot_learning_curves      ``loss_curve_``; ``history_``, ``train_scores_`` and
                          ``validation_scores_`` when they exist
plot_misclassified        ``predict``; ``predict_proba`` if available
plot_predictions          ``predict``
plot_weights              ``coefs_`` (MLPs, perceptron) or ``coef_`` (linear)
plot_filters              ``filters_`` (:class:`ConvDigitClassifier`)
plot_feature_maps         ``feature_maps(X, layer=...)`` (ConvDigitClassifier)
========================  =====================================================

Images are rebuilt from rows of ``X``: a row of 784 features is shown as
28x28, 64 as 8x8 (any perfect square); pass ``image_shape`` otherwise.

A model that knows its classes' names and its data set (``class_names_``
and ``dataset_name_``, set by ``perceptron train`` or by you) is shown with
them: "Sneaker" rather than "7" on the axes and in the titles, and the
titles say which model, trained on which data set, and how accurate it is.
"""

import math
import numbers

import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.utils.validation import check_consistent_length, check_is_fitted

from ._validation import check_image_shape, check_positive_int
from .metrics import _class_names

__all__ = [
    "plot_confusion_matrix",
    "plot_feature_maps",
    "plot_filters",
    "plot_learning_curves",
    "plot_misclassified",
    "plot_predictions",
    "plot_weights",
]

#: colour of the titles of right and wrong predictions in plot_predictions
CORRECT_COLOR = "green"
WRONG_COLOR = "red"


# ----------------------------------------------------------------- helpers
def _pyplot():
    # imported on first use: importing perceptron must not pick a backend
    import matplotlib.pyplot as plt

    return plt


def _check_fitted(estimator):
    """NotFittedError if ``estimator`` is an unfitted scikit-learn estimator."""
    if hasattr(estimator, "fit"):
        check_is_fitted(estimator)


def _require(estimator, attribute, what, hint=""):
    if not hasattr(estimator, attribute):
        raise ValueError(
            f"{what} needs the estimator's {attribute}, which "
            f"{type(estimator).__name__} does not have{hint}")
    return getattr(estimator, attribute)


def _as_images(X, image_shape):
    """Images ``(n, h, w)`` to show for samples ``X`` (2D rows or 3D images)."""
    X = np.asarray(X)
    if X.ndim == 3:
        return X
    if X.ndim != 2:
        raise ValueError(
            f"X must be a 2D array (n_samples, n_pixels) or a 3D array of images, "
            f"got shape {X.shape}")
    return X.reshape((X.shape[0],) + check_image_shape(image_shape, X.shape[1]))


def _grid(n, n_cols, fig, cell):
    """``n`` Axes in a grid (``n_cols`` wide), on ``fig`` or a new figure."""
    check_positive_int("n_cols", n_cols, allow_none=True)
    n_cols = min(n, n_cols or math.ceil(math.sqrt(n)))
    n_rows = math.ceil(n / n_cols)
    if fig is None:
        fig = _pyplot().figure(figsize=(cell[0] * n_cols + 0.5, cell[1] * n_rows + 0.6),
                               layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.remove()
    for ax in axes[:n]:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig, list(axes[:n])


def _message_figure(fig, text):
    """A figure with one blank Axes saying ``text``."""
    if fig is None:
        fig = _pyplot().figure(figsize=(4, 1.5), layout="constrained")
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes,
            wrap=True)
    ax.set_axis_off()
    return fig


def _show_grid(images, titles, *, cmap, fig, n_cols, cell, symmetric, colorbar,
               colorbar_label=None, title_colors=None):
    """Draw ``images`` (n, h, w) with one shared colour scale; return the figure."""
    fig, axes = _grid(len(images), n_cols, fig, cell)
    _draw_images(axes, images, titles, cmap=cmap, symmetric=symmetric, colorbar=colorbar,
                 colorbar_label=colorbar_label, title_colors=title_colors)
    return fig


def _draw_images(axes, images, titles, *, cmap, symmetric, colorbar, colorbar_label=None,
                 title_colors=None):
    """``images`` on ``axes``, one each, on one colour scale (and one colour bar)."""
    if symmetric:
        vmax = float(np.abs(images).max()) or 1.0
        vmin = -vmax
    else:
        vmin, vmax = float(images.min()), float(images.max())
        if vmin == vmax:
            vmax = vmin + 1.0
    for k, (ax, image, title) in enumerate(zip(axes, images, titles)):
        im = ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        colors = {} if title_colors is None else {"color": title_colors[k]}
        ax.set_title(title, fontsize="small", **colors)
    if colorbar:
        cbar = axes[0].figure.colorbar(im, ax=axes, shrink=0.8)
        if colorbar_label:
            cbar.set_label(colorbar_label)


def _label(value, names=None):
    """How a class label is written: its name when ``names`` (from
    :func:`_class_names`) has one, else the label itself."""
    value = value.item() if isinstance(value, np.generic) else value
    if names is not None and value in names:
        return names[value]
    return str(value)


def _caption(estimator, accuracy=None):
    """What a title says about the model: "MLPDigitClassifier on digits, accuracy 0.975"."""
    text = type(estimator).__name__
    dataset = getattr(estimator, "dataset_name_", None)
    if dataset:
        text += f" on {dataset}"
    if accuracy is not None:
        text += f", accuracy {accuracy:.3f}"
    return text


# ---------------------------------------------------------- confusion matrix
def plot_confusion_matrix(estimator_or_y_true, X_or_y_pred, y=None, *, labels=None,
                          display_labels=None, normalize=None, values_format=None,
                          cmap="Blues", colorbar=True, ax=None):
    """Confusion matrix of a fitted classifier on ``(X, y)``, or of predictions.

    Two call forms, as :class:`sklearn.metrics.ConfusionMatrixDisplay`
    (which draws it): ``plot_confusion_matrix(estimator, X, y)`` predicts
    ``X``; ``plot_confusion_matrix(y_true, y_pred)`` uses given predictions.

    Parameters
    ----------
    estimator_or_y_true : fitted classifier or array-like of shape (n_samples,)
        A classifier (anything with ``predict``), or the true labels.
    X_or_y_pred : array-like
        The samples to predict, or the predicted labels.
    y : array-like of shape (n_samples,), default=None
        True labels of ``X``; required with an estimator, not allowed with
        predictions.
    labels : array-like, default=None
        Classes to show, in order. None means the estimator's ``classes_``
        (so that absent classes still get a row), else every label found.
    display_labels : list of str, default=None
        Tick labels, one per class. None means the estimator's
        ``class_names_`` when it has them, else the labels.
    normalize : {None, "true", "pred", "all"}, default=None
        Counts (None), or fractions of each true class (rows sum to 1), of
        each predicted class (columns sum to 1), or of all samples.
    values_format : str, default=None
        Format of the numbers in the cells; None means "d" for counts and
        ".2f" for fractions.
    cmap : str or Colormap, default="Blues"
    colorbar : bool, default=True
    ax : matplotlib Axes, default=None
        Where to draw; None creates a new figure.

    Returns
    -------
    fig : matplotlib Figure
        ``fig.axes[0].images[0].get_array()`` is the matrix drawn. The
        title gives the accuracy and, with an estimator, names it.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import RidgeClassifier
    >>> from perceptron.plotting import plot_confusion_matrix
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = RidgeClassifier().fit(X[:1200], y[:1200])
    >>> fig = plot_confusion_matrix(clf, X[1200:], y[1200:], normalize="true")
    >>> fig.axes[0].images[0].get_array().sum(axis=1).round(6).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    >>> plt.close(fig)
    """
    estimator = None
    if hasattr(estimator_or_y_true, "predict"):
        estimator = estimator_or_y_true
        if y is None:
            raise ValueError("y (the true labels of X) is required with an estimator")
        _check_fitted(estimator)
        y_true, y_pred = y, estimator.predict(X_or_y_pred)
        if labels is None and hasattr(estimator, "classes_"):
            labels = estimator.classes_
    else:
        if y is not None:
            raise ValueError(
                "y must be None when the first two arguments are y_true and y_pred")
        y_true, y_pred = estimator_or_y_true, X_or_y_pred
    names = None if estimator is None else _class_names(estimator)
    if display_labels is None and names is not None and labels is not None:
        display_labels = [_label(label, names) for label in labels]
    if values_format is None:
        values_format = "d" if normalize is None else ".2f"
    long_names = display_labels is not None and max(map(len, map(str, display_labels))) > 3
    display = ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=labels, normalize=normalize, display_labels=display_labels,
        values_format=values_format, cmap=cmap, colorbar=colorbar, ax=ax,
        xticks_rotation=45 if long_names else "horizontal")
    if long_names:
        for tick in display.ax_.get_xticklabels():
            tick.set_horizontalalignment("right")
            tick.set_rotation_mode("anchor")
    title = {None: "Confusion matrix", "true": "Confusion matrix (rows sum to 1)",
             "pred": "Confusion matrix (columns sum to 1)",
             "all": "Confusion matrix (fractions of all samples)"}[normalize]
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    accuracy = float(np.mean(y_true == y_pred)) if len(y_true) else None
    caption = (f"accuracy {accuracy:.3f}" if estimator is None
               else _caption(estimator, accuracy))
    display.ax_.set_title(f"{title}\n{caption}", fontsize="medium")
    return display.figure_


# ------------------------------------------------------------- training
def plot_learning_curves(estimator, *, ax=None):
    """Training and validation loss and accuracy per epoch, side by side.

    The first panel draws the loss of each epoch: ``loss_curve_`` and, when
    there was a validation set, the validation loss (``history_["val_loss"]``
    of this package's estimators). The second panel draws the accuracy:
    training (``train_scores_``) and validation (``validation_scores_``),
    whichever exist. This package's estimators are read from ``history_``,
    one entry per epoch, so a validation curve that began in a later
    (warm-started) fit is drawn at the epochs it covers. scikit-learn's
    :class:`~sklearn.neural_network.MLPClassifier` has no training accuracy
    and no validation loss: its accuracy panel shows the validation curve
    only, and there is no accuracy panel when early stopping was off. A
    single epoch is drawn as points.

    Parameters
    ----------
    estimator : fitted estimator
        With ``loss_curve_`` (stochastic solvers: "sgd", "adam", ...).
    ax : Axes or sequence of 1 or 2 Axes, default=None
        Where to draw: the loss on the first, the accuracy on the second. A
        single Axes gets the loss only. None creates a figure with one panel
        per available kind of curve.

    Returns
    -------
    fig : matplotlib Figure

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    ValueError
        If it has no ``loss_curve_`` (e.g. MLPClassifier with "lbfgs").

    Examples
    --------
    >>> import warnings
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.exceptions import ConvergenceWarning
    >>> from sklearn.neural_network import MLPClassifier
    >>> from perceptron.plotting import plot_learning_curves
    >>> X, y = load_digits(return_X_y=True)
    >>> mlp = MLPClassifier(hidden_layer_sizes=(16,), max_iter=10, early_stopping=True,
    ...                     n_iter_no_change=20, random_state=0)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", ConvergenceWarning)
    ...     mlp = mlp.fit(X / 16, y)
    >>> fig = plot_learning_curves(mlp)
    >>> [ax.get_title() for ax in fig.axes]
    ['Loss', 'Accuracy']
    >>> len(fig.axes[0].lines[0].get_ydata())
    10
    >>> plt.close(fig)
    """
    _check_fitted(estimator)
    loss = _require(estimator, "loss_curve_", "plot_learning_curves",
                    " (only stochastic solvers record it)")
    history = getattr(estimator, "history_", None)
    if isinstance(history, dict) and len(history.get("loss", ())) == len(loss):
        losses = [("training", loss), ("validation", history.get("val_loss"))]
        scores = [("training", history.get("score")), ("validation", history.get("val_score"))]
    else:
        losses = [("training", loss)]
        scores = [(label, getattr(estimator, attr, None))
                  for attr, label in (("train_scores_", "training"),
                                      ("validation_scores_", "validation"))]
    losses, curves = _curves(losses), _curves(scores)

    if ax is None:
        n_panels = 2 if curves else 1
        fig = _pyplot().figure(figsize=(5 * n_panels, 3.6), layout="constrained")
        axes = list(fig.subplots(1, n_panels, squeeze=False).ravel())
    else:
        axes = [ax] if hasattr(ax, "plot") else list(ax)
        if not 1 <= len(axes) <= 2 or not all(hasattr(a, "plot") for a in axes):
            raise ValueError("ax must be an Axes or a sequence of 1 or 2 Axes "
                             "(loss, accuracy)")
        fig = axes[0].figure

    _draw_curves(axes[0], losses, "Loss", "loss")
    if len(axes) > 1:
        _draw_curves(axes[1], curves, "Accuracy", "accuracy")
        if not curves:
            axes[1].text(0.5, 0.5, "no accuracy recorded", ha="center", va="center",
                         transform=axes[1].transAxes)
    return fig


def _curves(named):
    """``(label, values)`` pairs with something to draw, as float arrays."""
    out = []
    for label, values in named:
        if values is not None and len(values) > 0:
            values = np.asarray(values, dtype=float)
            if not np.isnan(values).all():
                out.append((label, values))
    return out


def _draw_curves(ax, curves, title, ylabel):
    """One line per curve against the epoch (from 1); points when there is one epoch."""
    from matplotlib.ticker import MaxNLocator

    for label, values in curves:
        ax.plot(np.arange(1, len(values) + 1), values, label=label,
                marker="o" if np.count_nonzero(~np.isnan(values)) == 1 else None)
    ax.set(title=title, xlabel="epoch", ylabel=ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(curves) > 1 or (curves and title == "Accuracy"):
        ax.legend()


# ------------------------------------------------------------- galleries
def plot_misclassified(estimator, X, y, *, n=16, image_shape=None, n_cols=None,
                       cmap="gray_r", fig=None):
    """Gallery of the misclassified samples of a test set.

    Each image is titled with its true label, the predicted label and, when
    the estimator has ``predict_proba``, the probability it gave to its
    prediction (class names when the estimator has ``class_names_``). The
    first ``n`` errors are shown, in the order of ``X``; the title counts
    them and names the model.

    Parameters
    ----------
    estimator : fitted classifier
    X : array-like of shape (n_samples, n_pixels) or (n_samples, h, w)
        Test images, as ``estimator.predict`` takes them.
    y : array-like of shape (n_samples,)
        True labels.
    n : int, default=16
        Maximum number of images shown.
    image_shape : tuple (height, width), default=None
        Shape of an image; None infers a square (784 -> 28x28, 64 -> 8x8).
    n_cols : int, default=None
        Images per row; None makes the grid about square.
    cmap : str or Colormap, default="gray_r"
        Colour map of the images ("gray_r": ink dark on white).
    fig : Figure or SubFigure, default=None
        Where to add the grid; None creates a new figure.

    Returns
    -------
    fig : matplotlib Figure
        One Axes per image shown. When nothing is misclassified, a single
        blank Axes says so.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from perceptron.plotting import plot_misclassified
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = GaussianNB().fit(X[:1000], y[:1000])
    >>> fig = plot_misclassified(clf, X[1000:], y[1000:], n=4)
    >>> len(fig.axes)
    4
    >>> fig.axes[0].get_title()
    'true: 9\\npred: 3 (p=0.95)'
    >>> plt.close(fig)
    """
    check_positive_int("n", n)
    _check_fitted(estimator)
    X_arr = np.asarray(X)
    y = np.asarray(y)
    check_consistent_length(X_arr, y)
    y_pred = np.asarray(estimator.predict(X))
    wrong = np.flatnonzero(y_pred != y)
    if wrong.size == 0:
        return _message_figure(fig, f"No misclassified samples: all {len(y)} correct.")
    shown = wrong[:n]
    images = _as_images(X_arr[shown], image_shape)
    names = _class_names(estimator)
    probability = _probability_of(estimator, X_arr[shown], y_pred[shown])
    titles = []
    for i, s in enumerate(shown):
        title = f"true: {_label(y[s], names)}\npred: {_label(y_pred[s], names)}"
        if probability is not None:
            title += f" (p={probability[i]:.2f})"
        titles.append(title)
    fig = _show_grid(images, titles, cmap=cmap, fig=fig, n_cols=n_cols, cell=(1.5, 1.8),
                     symmetric=False, colorbar=False)
    fig.suptitle(f"Misclassified: {wrong.size} of {len(y)}"
                 + (f" (first {len(shown)} shown)" if len(shown) < wrong.size else "")
                 + f"\n{_caption(estimator, 1 - wrong.size / len(y))}")
    return fig


def _probability_of(estimator, X, y_pred):
    """The probability the estimator gave to its prediction ``y_pred`` of each row
    of ``X``, or None without ``predict_proba``."""
    if not hasattr(estimator, "predict_proba"):
        return None
    proba = np.asarray(estimator.predict_proba(X))
    if not hasattr(estimator, "classes_"):
        return proba.max(axis=1)
    column = {_label(c): k for k, c in enumerate(estimator.classes_)}
    return [proba[i, column[_label(p)]] for i, p in enumerate(y_pred)]


def plot_predictions(estimator, X, y=None, *, n=16, image_shape=None, n_cols=None,
                     cmap="gray_r", fig=None):
    """Gallery of the first ``n`` samples with their predicted labels.

    Each title shows the predicted label (its class name when the estimator
    has ``class_names_``) and, when the estimator has ``predict_proba``, the
    probability it gave to it. With the true labels ``y``, it also shows the
    true label and is green when the prediction is right, red when it is
    wrong.

    Parameters
    ----------
    estimator : fitted classifier
    X : array-like of shape (n_samples, n_pixels) or (n_samples, h, w)
        Images, as ``estimator.predict`` takes them.
    y : array-like of shape (n_samples,), default=None
        True labels, if known.
    n : int, default=16
        Number of samples shown (the first ones).
    image_shape : tuple (height, width), default=None
        Shape of an image; None infers a square (784 -> 28x28, 64 -> 8x8).
    n_cols : int, default=None
        Images per row; None makes the grid about square.
    cmap : str or Colormap, default="gray_r"
    fig : Figure or SubFigure, default=None
        Where to add the grid; None creates a new figure.

    Returns
    -------
    fig : matplotlib Figure
        One Axes per sample shown.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import RidgeClassifier
    >>> from perceptron.plotting import plot_predictions
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = RidgeClassifier().fit(X[:1000], y[:1000])
    >>> fig = plot_predictions(clf, X[1000:], y[1000:], n=8)
    >>> fig.axes[0].get_title()
    'true: 1\\npred: 1'
    >>> plt.close(fig)
    """
    check_positive_int("n", n)
    _check_fitted(estimator)
    X_arr = np.asarray(X)
    if X_arr.shape[0] == 0:
        raise ValueError("X contains no samples")
    X_shown = X_arr[:n]
    images = _as_images(X_shown, image_shape)
    y_pred = np.asarray(estimator.predict(X_shown))
    names = _class_names(estimator)
    probability = _probability_of(estimator, X_shown, y_pred)
    titles = [f"pred: {_label(p, names)}" for p in y_pred]
    if probability is not None:
        titles = [f"{t} (p={q:.2f})" for t, q in zip(titles, probability)]
    colors = None
    if y is not None:
        y = np.asarray(y)
        check_consistent_length(X_arr, y)
        y_shown = y[:n]
        titles = [f"true: {_label(t, names)}\n{title}" for t, title in zip(y_shown, titles)]
        colors = [CORRECT_COLOR if t == p else WRONG_COLOR for t, p in zip(y_shown, y_pred)]
    fig = _show_grid(images, titles, cmap=cmap, fig=fig, n_cols=n_cols, cell=(1.5, 1.8),
                     symmetric=False, colorbar=False, title_colors=colors)
    if y is not None:
        n_right = sum(c == CORRECT_COLOR for c in colors)
        fig.suptitle(f"Predictions: {n_right} of {len(colors)} correct\n"
                     f"{_caption(estimator)}")
    else:
        fig.suptitle(f"Predictions of {_caption(estimator)}")
    return fig


# ------------------------------------------------------- learned weights
def plot_weights(estimator, *, max_units=16, image_shape=None, n_cols=None,
                 cmap="RdBu_r", colorbar=True, fig=None):
    """First-layer weights of a dense network, one image per unit.

    Column ``k`` of ``coefs_[0]`` (shape ``(n_features, n_units)``) holds
    the weight of each pixel into unit ``k``: reshaped to the image, it is
    the pattern the unit responds to. For a perceptron (a single layer) the
    units are the classes, and the images are titled by class. Linear models
    with ``coef_`` (shape ``(n_classes, n_features)``) are shown the same way.
    A diverging colour map is centred at 0, with one scale for all units.

    Parameters
    ----------
    estimator : fitted estimator
        With ``coefs_`` (:class:`PerceptronClassifier`,
        :class:`MLPDigitClassifier`, scikit-learn's ``MLPClassifier``) or
        ``coef_`` (linear models).
    max_units : int, default=16
        Show the first ``max_units`` units at most.
    image_shape : tuple (height, width), default=None
        None infers a square (784 -> 28x28, 64 -> 8x8).
    n_cols : int, default=None
        Images per row; None makes the grid about square.
    cmap : str or Colormap, default="RdBu_r"
        Diverging colour map: red positive, blue negative, white 0.
    colorbar : bool, default=True
    fig : Figure or SubFigure, default=None
        Where to add the grid; None creates a new figure.

    Returns
    -------
    fig : matplotlib Figure
        One image Axes per unit shown (plus the colour bar's Axes).

    Examples
    --------
    >>> import warnings
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.exceptions import ConvergenceWarning
    >>> from sklearn.neural_network import MLPClassifier
    >>> from perceptron.plotting import plot_weights
    >>> X, y = load_digits(return_X_y=True)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", ConvergenceWarning)
    ...     mlp = MLPClassifier(hidden_layer_sizes=(12,), max_iter=5).fit(X / 16, y)
    >>> fig = plot_weights(mlp)
    >>> sum(1 for ax in fig.axes if ax.images)
    12
    >>> plt.close(fig)
    """
    check_positive_int("max_units", max_units)
    _check_fitted(estimator)
    if hasattr(estimator, "coefs_"):
        coefs = estimator.coefs_
        weights = np.asarray(coefs[0])
        single_layer = len(coefs) == 1
    elif hasattr(estimator, "coef_"):
        weights = np.asarray(estimator.coef_).T
        single_layer = True
    else:
        raise ValueError(
            f"plot_weights needs the estimator's coefs_ (or coef_), which "
            f"{type(estimator).__name__} does not have; for a convolutional "
            "network use plot_filters")
    if weights.ndim != 2:
        raise ValueError(f"the first-layer weights must be 2D (n_features, n_units), "
                         f"got shape {weights.shape}")
    n_features, n_units = weights.shape
    shape = check_image_shape(image_shape, n_features, what="the model")
    k = min(max_units, n_units)
    images = weights[:, :k].T.reshape((k,) + shape)
    classes = getattr(estimator, "classes_", None)
    if single_layer and classes is not None and len(classes) == n_units:
        names = _class_names(estimator)
        titles = [_label(c, names) if names else f"class {_label(c)}" for c in classes[:k]]
    else:
        titles = [f"unit {i}" for i in range(k)]
    fig = _show_grid(images, titles, cmap=cmap, fig=fig, n_cols=n_cols, cell=(1.3, 1.4),
                     symmetric=True, colorbar=colorbar, colorbar_label="weight")
    fig.suptitle(f"First-layer weights ({k} of {n_units} units)\n{_caption(estimator)}")
    return fig


def plot_filters(estimator, *, layer=0, channel=None, max_filters=None, n_cols=None,
                 cmap="RdBu_r", colorbar=True, fig=None):
    """Convolution filters of one layer of a CNN, one small image per filter.

    ``estimator.filters_[layer]`` has shape ``(n_filters, kernel_h,
    kernel_w, in_channels)``. A filter of the first layer on grayscale
    digits has one input channel: it is shown as is. A filter of a deeper
    layer has one channel per feature map of the previous layer: by default
    the mean over the channels is shown (its average spatial pattern), or
    the weights on one channel with ``channel=``. A diverging colour map is
    centred at 0, with one scale for all the filters of the layer.

    Parameters
    ----------
    estimator : fitted estimator with ``filters_``
        :class:`ConvDigitClassifier`.
    layer : int, default=0
        Index of the convolutional layer (0 = the one seeing the pixels).
    channel : int, default=None
        Input channel to show; None shows the mean over the channels.
    max_filters : int, default=None
        Show the first ``max_filters`` filters at most; None shows all.
    n_cols : int, default=None
        Images per row; None makes the grid about square.
    cmap : str or Colormap, default="RdBu_r"
    colorbar : bool, default=True
    fig : Figure or SubFigure, default=None
        Where to add the grid; None creates a new figure.

    Returns
    -------
    fig : matplotlib Figure
        One image Axes per filter shown (plus the colour bar's Axes).

    Examples
    --------
    With a stand-in for a fitted ConvDigitClassifier, eight 3x3 filters:

    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> from perceptron.plotting import plot_filters
    >>> class FittedCNN:
    ...     filters_ = [np.random.default_rng(0).normal(size=(8, 3, 3, 1))]
    >>> fig = plot_filters(FittedCNN())
    >>> sum(1 for ax in fig.axes if ax.images), fig.axes[0].images[0].get_array().shape
    (8, (3, 3))
    >>> plt.close(fig)
    """
    check_positive_int("max_filters", max_filters, allow_none=True)
    _check_fitted(estimator)
    filters = _require(estimator, "filters_", "plot_filters",
                       "; for a dense network use plot_weights")
    if (not isinstance(layer, numbers.Integral) or isinstance(layer, bool)
            or not 0 <= layer < len(filters)):
        raise ValueError(f"layer must be an int in [0, {len(filters)}), got {layer!r}")
    weights = np.asarray(filters[layer])
    if weights.ndim != 4:
        raise ValueError(
            f"filters_[{layer}] must have shape (n_filters, kernel_h, kernel_w, "
            f"in_channels), got {weights.shape}")
    n_filters, _, _, in_channels = weights.shape
    if channel is None:
        images = weights.mean(axis=-1)
        what = "mean over input channels" if in_channels > 1 else None
    elif (isinstance(channel, numbers.Integral) and not isinstance(channel, bool)
          and 0 <= channel < in_channels):
        images = weights[..., channel]
        what = f"input channel {channel}"
    else:
        raise ValueError(
            f"channel must be None or an int in [0, {in_channels}), got {channel!r}")
    k = n_filters if max_filters is None else min(max_filters, n_filters)
    fig = _show_grid(images[:k], [f"filter {i}" for i in range(k)], cmap=cmap, fig=fig,
                     n_cols=n_cols, cell=(1.1, 1.25), symmetric=True, colorbar=colorbar,
                     colorbar_label="weight")
    fig.suptitle(f"Layer {layer} filters" + (f" ({what})" if what else "")
                 + f"\n{_caption(estimator)}")
    return fig


def plot_feature_maps(estimator, x, *, layer=0, max_maps=None, n_cols=None,
                      cmap="viridis", colorbar=True, fig=None):
    """Feature maps of one image at one convolutional layer, next to the image.

    Calls ``estimator.feature_maps(x.reshape(1, -1), layer=layer)``, which
    returns an array of shape ``(1, h, w, n_filters)``, and shows the input
    image first, then each map, with one colour scale for all maps (so strong
    and weak responses compare).

    Parameters
    ----------
    estimator : fitted estimator with ``feature_maps``
        :class:`ConvDigitClassifier`.
    x : array-like
        One image: flattened ``(n_pixels,)`` or ``(1, n_pixels)``, or 2D
        ``(h, w)``.
    layer : int, default=0
        Index of the convolutional layer.
    max_maps : int, default=None
        Show the first ``max_maps`` maps at most; None shows all.
    n_cols : int, default=None
        Images per row; None makes the grid about square.
    cmap : str or Colormap, default="viridis"
    colorbar : bool, default=True
    fig : Figure or SubFigure, default=None
        Where to add the grid; None creates a new figure.

    Returns
    -------
    fig : matplotlib Figure
        One image Axes for the input, then one per map shown (plus the colour
        bar's Axes).

    Examples
    --------
    With a stand-in for a fitted ConvDigitClassifier, whose four "filters"
    scale the image:

    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> from perceptron.plotting import plot_feature_maps
    >>> class FittedCNN:
    ...     def feature_maps(self, X, layer=0):
    ...         images = X.reshape(-1, 8, 8, 1)
    ...         return images * np.arange(1, 5)
    >>> fig = plot_feature_maps(FittedCNN(), np.eye(8))
    >>> [ax.get_title() for ax in fig.axes if ax.images]
    ['input', 'map 0', 'map 1', 'map 2', 'map 3']
    >>> plt.close(fig)
    """
    check_positive_int("max_maps", max_maps, allow_none=True)
    _check_fitted(estimator)
    _require(estimator, "feature_maps", "plot_feature_maps")
    x = np.asarray(x)
    n_features = getattr(estimator, "n_features_in_", None)
    one_sample = x.ndim in (1, 2) and (x.ndim == 1 or x.shape[0] == 1 or n_features is None
                                       or x.size == n_features)
    if not one_sample or (n_features is not None and x.size != n_features):
        raise ValueError(
            "x must be one image"
            + (f" of {n_features} pixels" if n_features is not None else "")
            + f", got an array of shape {x.shape}")
    maps = np.asarray(estimator.feature_maps(x.reshape(1, -1), layer=layer))
    if maps.ndim != 4 or maps.shape[0] != 1:
        raise ValueError(
            "estimator.feature_maps must return an array of shape (1, h, w, n_filters) "
            f"for one image, got {maps.shape}")
    maps = np.moveaxis(maps[0], -1, 0)  # (n_filters, h, w)
    k = len(maps) if max_maps is None else min(max_maps, len(maps))
    fig, axes = _grid(k + 1, n_cols, fig, cell=(1.3, 1.45))
    axes[0].imshow(_input_image(estimator, x), cmap="gray_r", interpolation="nearest")
    axes[0].set_title("input", fontsize="small")
    _draw_images(axes[1:], maps[:k], [f"map {i}" for i in range(k)], cmap=cmap,
                 symmetric=False, colorbar=colorbar, colorbar_label="activation")
    fig.suptitle(f"Layer {layer} feature maps ({k} of {len(maps)})\n{_caption(estimator)}")
    return fig


def _input_image(estimator, x):
    """The image ``x`` as the network sees it, 2D (its first channel if several)."""
    if x.ndim == 2 and x.shape[0] > 1:
        return x
    shape = getattr(estimator, "image_shape_", None)  # (channels, height, width)
    if shape is not None and len(shape) == 3 and math.prod(shape) == x.size:
        return x.reshape(shape)[0]
    side = math.isqrt(x.size)
    return x.reshape((side, side) if side * side == x.size else (1, x.size))
