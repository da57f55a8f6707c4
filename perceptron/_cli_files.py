"""The files the ``perceptron`` command reads and writes, and how they fail.

Output folders are checked before any work; JSON and pictures are written
under the names the user gave; model files and images are untrusted input.
Every failure is a :class:`UserError` that names the file (never a temporary
one), which :func:`perceptron.cli.main` prints as one line with exit status 2.
"""

import json
import os
import tempfile

import numpy as np



class UserError(Exception):
    """A mistake the user can fix: a one-line message, then optional hints.

    Parameters
    ----------
    message : str
        What is wrong, naming the option or the file.
    hints : sequence of str
        Next steps, printed indented under the message.
    """

    def __init__(self, message, hints=()):
        super().__init__(message)
        self.hints = list(hints)


def one_line(text):
    """``text`` (an exception's message, say) on one line."""
    return " ".join(str(text).split())


def _naming(path, exc):
    """The message of ``exc``, with ``path`` in it."""
    message = one_line(exc)
    return message if str(path) in message else f"{path}: {message}"


# ------------------------------------------------------------------ written
def check_output_folder(folder, flag):
    """Create ``folder`` if needed and make sure files can be written in it.

    Called before any training, so that an unwritable ``--out`` fails at
    once instead of after the work.
    """
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UserError(f"{flag} {folder} is a file, not a folder")
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise UserError(f"cannot write in the {flag} folder {folder}: "
                        f"{exc.strerror or exc}") from None


def write_json(path, payload, flag):
    """Write ``payload`` to ``path`` atomically; errors name ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserError(f"cannot write {path} ({flag}): the folder {folder} does not exist")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".perceptron-", suffix=".json.part", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise UserError(f"cannot write {path} ({flag}): {exc.strerror or exc}") from None


def _pyplot():
    """matplotlib's pyplot, drawing into files (no window)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _savefig(fig, path, flag):
    """Write ``fig`` to ``path`` as PNG and close it; errors name ``path``."""
    try:
        fig.savefig(path, dpi=100, bbox_inches="tight")
    except OSError as exc:
        raise UserError(f"cannot write {path} ({flag}): {exc.strerror or exc}") from None
    finally:
        _pyplot().close(fig)


def save_plots(est, X_test, y_test, out, accuracy):
    """Draw the pictures of a trained model into ``out`` as PNG files; return their paths."""
    _pyplot()
    from . import plotting

    def learning_curves():
        fig = plotting.plot_learning_curves(est)
        fig.suptitle(f"{plotting._caption(est)}, test accuracy {accuracy:.3f}")
        return fig

    figures = {
        "confusion_matrix.png": lambda: plotting.plot_confusion_matrix(est, X_test, y_test),
        "confusion_matrix_normalized.png": lambda: plotting.plot_confusion_matrix(
            est, X_test, y_test, normalize="true"),
        "learning_curves.png": learning_curves,
        "misclassified.png": lambda: plotting.plot_misclassified(est, X_test, y_test),
        "predictions.png": lambda: plotting.plot_predictions(est, X_test, y_test),
    }
    if hasattr(est, "filters_"):
        figures["filters.png"] = lambda: plotting.plot_filters(est, layer=0)
        figures["feature_maps.png"] = lambda: plotting.plot_feature_maps(est, X_test[0])
    else:
        figures["weights.png"] = lambda: plotting.plot_weights(est)
    written = []
    for name, draw in figures.items():
        path = os.path.join(out, name)
        _savefig(draw(), path, "--out")
        written.append(path)
    return written


def save_model_view(est, X, path):
    """``predict --show``: the images as the model sees them, with its answers."""
    _pyplot()
    from .plotting import plot_predictions

    # values as the model reads them: ink 1 is white, background 0 black
    _savefig(plot_predictions(est, X, n=X.shape[0], cmap="gray"), path, "--show")


# --------------------------------------------------------------------- read
def load_model_file(path):
    """A saved model, or a UserError saying why this file is not one."""
    from . import load

    if not os.path.exists(path):
        raise UserError(f"no model file at {path}",
                        ["train one with: perceptron train --out FOLDER"])
    if os.path.isdir(path):
        hint = os.path.join(path, "model.npz")
        raise UserError(f"{path} is a folder, not a model file",
                        [f"did you mean {hint}?"] if os.path.isfile(hint) else [])
    try:
        return load(path)
    except Exception as exc:  # an untrusted file: whatever breaks, it is not a model
        raise UserError(f"not a usable model file: {_naming(path, exc)}") from None


def image_layout(est, model_path):
    """``(size, box)`` of the images ``est`` takes: their size, and the box the
    drawing fills in them (:func:`perceptron.preprocessing.digit_field`)."""
    from .preprocessing import digit_field

    try:
        side, box = digit_field(est.n_features_in_)
    except ValueError:
        raise UserError(f"{model_path} does not take square images "
                        f"({est.n_features_in_} pixels); give .npy arrays") from None
    if getattr(est, "dataset_name_", None) == "fashion-mnist":
        return side, side  # the articles fill their frame, unlike MNIST's digits
    return side, box


def read_images(paths, est, model_path):
    """Image files (or .npy arrays) as rows of the model's ``n_features_in_`` pixels.

    Returns
    -------
    X : ndarray of shape (len(paths), n_features_in_)
    side : int or None
        The side the image files were resized to (None: only arrays).
    """
    from .preprocessing import preprocess_digit_image

    n_features = est.n_features_in_
    rows = []
    layout = None
    for path in paths:
        if not os.path.isfile(path):
            raise UserError(f"no such image file: {path}")
        try:
            if path.endswith(".npy"):
                arr = np.load(path, allow_pickle=False)
                if arr.dtype.kind not in "biuf" or arr.size != n_features:
                    raise ValueError(f"holds {arr.size} values of type {arr.dtype}; the model "
                                     f"takes {n_features} numbers")
                rows.append(arr.astype(np.float64).reshape(-1))
                continue
            if layout is None:
                layout = image_layout(est, model_path)
            side, box = layout
            rows.append(np.asarray(preprocess_digit_image(path, size=side, box=box)).ravel())
        except (ValueError, OSError) as exc:  # Pillow's refusals included
            raise UserError(_naming(path, exc)) from None
    return np.vstack(rows), (None if layout is None else layout[0])
