"""The ``perceptron`` command: train, evaluate, predict, compare.

Examples::

    perceptron train                                  # an MLP on the bundled 8x8 digits
    perceptron train --model cnn --dataset fashion-mnist --epochs 10 --plots
    perceptron evaluate perceptron-output/model.npz
    perceptron predict perceptron-output/model.npz my_digit.png
    perceptron compare --dataset digits
    perceptron serve perceptron-output/model.npz      # draw digits in the browser

A mistake the user can fix (a bad option value, a missing or unwritable file,
an offline download) prints ``perceptron <command>: error: <what>`` on
standard error -- one line, naming the option or the file, then, when there
is a next step to suggest, a few indented lines -- and exits with status 2,
without a traceback. Options and output folders are checked before any
training starts.

How the parser is laid out (to add to it): ``build_parser`` calls one
``_add_<command>_parser`` per subcommand, which adds its options in groups,
one ``_add_<group>_options`` function each, and names the ``cmd_<command>``
that runs it. A ``train`` option that sets an estimator parameter is one
entry of :data:`TRAIN_FLAGS` plus its ``add_argument``: ``_estimator`` then
passes it to the model, and error messages about the parameter name the
flag instead.
"""

import argparse
import contextlib
import json
import os
import re
import sys
import textwrap
import time
import warnings

import numpy as np

from . import __version__
from ._cli_files import (UserError, check_output_folder, load_model_file, one_line,
                         read_images, save_model_view, save_plots, write_json)
from ._validation import check_image_shape

DATASETS = ("digits", "mnist", "fashion-mnist")
MODELS = ("perceptron", "mlp", "cnn")

#: train's flags that set an estimator parameter: flag -> the parameter, or
#: the first of several that the model has (``--hidden`` is the MLP's
#: ``hidden_layer_sizes`` and the CNN's ``dense_layers``). Messages about a
#: parameter name its flag.
TRAIN_FLAGS = {
    "--epochs": ("max_iter",),
    "--hidden": ("hidden_layer_sizes", "dense_layers"),
    "--conv": ("conv_layers",),
    "--dropout": ("dropout",),
    "--solver": ("solver",),
    "--learning-rate": ("learning_rate_init",),
    "--batch-size": ("batch_size",),
    "--alpha": ("alpha",),
    "--seed": ("random_state",),
    "--threads": ("n_threads",),
}


# ------------------------------------------------------------------ errors
def _flag_names(text):
    """``text`` with each estimator parameter of :data:`TRAIN_FLAGS` replaced by its flag."""
    for flag, names in TRAIN_FLAGS.items():
        for name in names:
            text = re.sub(rf"(?<![\w-]){name}(?![\w-])", flag, text)
    return text


def _describe_error(exc):
    """``(message, hints)`` for an exception the user can act on."""
    from .datasets import DownloadError
    from .datasets._locate import DataFilesNotFoundError

    if isinstance(exc, UserError):
        return str(exc), exc.hints
    if isinstance(exc, DataFilesNotFoundError):
        first, *rest = exc.describe(forbidden="--no-download", allow="drop --no-download",
                                    other_folder="give --data-home a folder").splitlines()
        if exc.title == "MNIST":
            rest += _fashion_mnist_hint()
        return first, rest
    if isinstance(exc, DownloadError):
        first, *rest = exc.describe(other_folder="give --data-home a folder").splitlines()
        if "MNIST" in first and "Fashion" not in first:
            rest += _fashion_mnist_hint()
        return first, rest
    return one_line(exc), []


def _fashion_mnist_hint():
    from .datasets import _sources

    if os.path.isdir(_sources.DEBIAN_FASHION_MNIST_DIR):
        return ["Fashion-MNIST is installed on this machine (Debian package",
                "dataset-fashion-mnist): --dataset fashion-mnist works offline."]
    return []


# ------------------------------------------------------------- output files
def _note(args, text):
    """A remark about the run, on standard error (none with --quiet)."""
    if not args.quiet:
        print(text, file=sys.stderr)


def _plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


# --------------------------------------------------------------- data, model
def _load_data(dataset, args):
    from .datasets import load_dataset

    return load_dataset(dataset, data_home=args.data_home, download=not args.no_download)


def _target_names(dataset):
    """Class names of a data set whose labels are not their own names."""
    if dataset == "fashion-mnist":
        from .datasets._sources import FASHION_MNIST_CLASSES

        return list(FASHION_MNIST_CLASSES)
    return None


def _estimator_verbosity(args):
    """The estimator's ``verbose``: a bar on a terminal, lines with -v, nothing with -q."""
    from ._training import _interactive

    if args.quiet:
        return 0
    if args.verbose:
        return 2
    return 1 if _interactive() else 0


def _estimator(model, args):
    """The model ``train``'s flags describe, its parameters checked (errors name flags)."""
    from .compare import make_estimator

    est = make_estimator(model, args.dataset, epochs=args.epochs, random_state=args.seed,
                         n_threads=args.threads, verbose=_estimator_verbosity(args))
    available = est.get_params()
    params = {}
    for flag, names in TRAIN_FLAGS.items():
        value = getattr(args, flag[2:].replace("-", "_"), None)
        if value is None or flag in ("--epochs", "--seed", "--threads"):
            continue  # unset, or already passed to make_estimator
        name = next((n for n in names if n in available), None)
        if name is None:
            users = [m for m in MODELS
                     if any(n in make_estimator(m).get_params() for n in names)]
            raise UserError(f"{flag} does not apply to --model {model}; "
                            f"it applies to --model {' or '.join(users)}")
        params[name] = value
    est.set_params(**params)
    try:
        est._validate_params()
    except ValueError as exc:
        raise UserError(_flag_names(one_line(exc))) from None
    return est


def _fit(est, X, y, **fit_params):
    """Fit, with the ConvergenceWarning caught; return ``(seconds, converged)``."""
    from sklearn.exceptions import ConvergenceWarning

    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught, _progress_to_stderr():
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            est.fit(X, y, **fit_params)
        except ValueError as exc:  # e.g. divergence: "try a smaller learning_rate_init"
            raise UserError(_flag_names(one_line(exc))) from None
    seconds = time.perf_counter() - start
    converged = True
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            converged = False
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
    return seconds, converged


def _progress_to_stderr():
    """While training, the estimator's lines (``verbose``) go to standard error:
    standard output carries only the results (a report, a table, JSON)."""
    return contextlib.redirect_stdout(sys.stderr)


def _check_training_control(args):
    """The options of issue #12 that can be checked before any work."""
    if args.validation_fraction is not None and not 0 < args.validation_fraction < 1:
        raise UserError(f"--validation-fraction must be between 0 and 1, "
                        f"got {args.validation_fraction}")
    if args.early_stopping and args.patience < 1:
        raise UserError(f"--patience must be at least 1, got {args.patience}")


def _training_control(args, est, X, y):
    """The options of issue #12: a validation set and callbacks on ``est``.

    Returns the training data (less the held-out part) and ``fit``'s
    validation arguments.
    """
    from sklearn.model_selection import train_test_split

    from .callbacks import EarlyStopping, LearningRateScheduler, ModelCheckpoint

    fraction = args.validation_fraction
    if fraction is None and args.early_stopping:
        fraction = 0.1
    validation = {}
    if fraction is not None:
        X, X_val, y, y_val = train_test_split(X, y, test_size=fraction, stratify=y,
                                              random_state=args.seed)
        validation = {"X_val": X_val, "y_val": y_val}
    monitor = "val_loss" if validation else "loss"
    callbacks = []
    if args.early_stopping:
        callbacks.append(EarlyStopping(monitor, patience=args.patience,
                                       verbose=not args.quiet))
    if args.lr_schedule != "constant":
        callbacks.append(LearningRateScheduler(args.lr_schedule))
    if args.checkpoint:
        callbacks.append(ModelCheckpoint(args.checkpoint, monitor=monitor))
    est.set_params(callbacks=callbacks or None)
    return X, y, validation


def _model_dataset(est, args):
    """The data set to evaluate ``est`` on: ``--dataset``, else the one it remembers."""
    if args.dataset is not None:
        return args.dataset
    dataset = getattr(est, "dataset_name_", None)
    if dataset in DATASETS:
        return dataset
    if est.n_features_in_ == 64:
        return "digits"
    raise UserError(f"{args.model_path} does not say which data set it was trained on",
                    [f"give it with --dataset ({', '.join(DATASETS)})"])


def _describe_model(est, dataset):
    """Remember the data set and class names in the model (saved with it)."""
    est.dataset_name_ = dataset
    names = _target_names(dataset)
    if names is not None:
        est.class_names_ = np.array(names)


# ----------------------------------------------------------------- commands
def cmd_train(args):
    """``perceptron train``: train, save the model, its metrics and (--plots) pictures."""
    from .metrics import classification_summary, format_summary

    est = _estimator(args.model, args)
    _check_training_control(args)
    check_output_folder(args.out, "--out")
    X_train, X_test, y_train, y_test = _load_data(args.dataset, args)
    X_train, y_train, validation = _training_control(args, est, X_train, y_train)
    side = check_image_shape(None, X_train.shape[1])[0]
    _note(args, f"Training {type(est).__name__} on {args.dataset}: "
                f"{X_train.shape[0]} images of {side}x{side} pixels, "
                f"up to {_plural(est.max_iter, 'epoch')}")
    fit_time, converged = _fit(est, X_train, y_train, **validation)
    _describe_model(est, args.dataset)
    summary = classification_summary(est, X_test, y_test)
    model_path = est.save(os.path.join(args.out, "model.npz"))
    metrics = {
        "model": args.model,
        "estimator": type(est).__name__,
        "params": {k: repr(v) for k, v in est.get_params().items()},
        "dataset": args.dataset,
        "n_train": int(X_train.shape[0]),
        "n_test": int(X_test.shape[0]),
        "epochs": est.n_iter_,
        "converged": converged,
        "fit_time_s": fit_time,
        "seconds_per_epoch": est.fit_time_ / max(est.n_iter_, 1),
        "loss_curve": est.loss_curve_,
        "train_accuracy_curve": est.train_scores_,
        "history": est.history_,
        "test": summary,
    }
    metrics_path = os.path.join(args.out, "metrics.json")
    write_json(metrics_path, metrics, "--out")
    written = [model_path, metrics_path]
    if args.plots:
        written += save_plots(est, X_test, y_test, args.out, summary["accuracy"])
    print(format_summary(summary))
    print(f"\nTrained for {_plural(est.n_iter_, 'epoch')} in {fit_time:.1f} s "
          f"({metrics['seconds_per_epoch']:.3f} s per epoch).")
    if not converged:
        _note(args, f"note: the loss was still improving after --epochs {est.max_iter}; "
                    "more epochs may give a better model.")
    print(textwrap.fill(", ".join(os.path.basename(p) for p in written), width=79,
                        initial_indent="  ", subsequent_indent="  ",
                        break_on_hyphens=False).join([f"Wrote in {args.out}:\n", ""]))
    if not args.quiet:
        print(f"Next: perceptron evaluate {model_path}\n"
              f"      perceptron predict {model_path} YOUR_IMAGE.png")
    return 0


def cmd_evaluate(args):
    """``perceptron evaluate``: a saved model's report on its data set's test set."""
    from .metrics import classification_summary, format_summary

    est = load_model_file(args.model_path)
    dataset = _model_dataset(est, args)
    _, X_test, _, y_test = _load_data(dataset, args)
    if X_test.shape[1] != est.n_features_in_:
        raise UserError(
            f"{args.model_path} takes {est.n_features_in_} pixels per image but "
            f"{dataset} images have {X_test.shape[1]}",
            ["evaluate it on the data set it was trained on (--dataset)"])
    if getattr(est, "class_names_", None) is None and _target_names(dataset):
        est.class_names_ = np.array(_target_names(dataset))
    summary = classification_summary(est, X_test, y_test)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        trained_on = getattr(est, "dataset_name_", None)
        print(f"{type(est).__name__}"
              + (f" trained on {trained_on}" if trained_on else "")
              + f", evaluated on the {dataset} test set\n")
        print(format_summary(summary))
    return 0


def cmd_predict(args):
    """``perceptron predict``: the class of each image, with its probability."""
    if args.show is not None:
        folder = os.path.dirname(os.path.abspath(args.show))
        if not os.path.isdir(folder):
            raise UserError(f"--show: no folder {folder} to write {args.show} into")
    est = load_model_file(args.model_path)
    X, side = read_images(args.images, est, args.model_path)
    if side == 8:
        _note(args, "note: this model takes 8x8 images (it was trained on the digits), so\n"
                    "  each image was shrunk to 8x8 pixels, which loses detail; for 28x28\n"
                    "  images, train on MNIST: perceptron train --dataset mnist")
    proba = est.predict_proba(X)
    names = getattr(est, "class_names_", None)
    names = [str(n) for n in (est.classes_ if names is None else names)]
    results = []
    for path, p in zip(args.images, proba):
        order = np.argsort(-p, kind="stable")
        results.append({"file": path, "label": est.classes_[order[0]].item(),
                        "name": names[order[0]],
                        "probabilities": {names[k]: float(p[k]) for k in range(len(p))}})
        if not args.json:
            others = ", ".join(f"{names[k]} {p[k]:.3f}" for k in order[1:3])
            print(f"{path}: {names[order[0]]} (probability {p[order[0]]:.3f}; "
                  f"next: {others})")
    if args.json:
        print(json.dumps(results, indent=2))
    if args.show is not None:
        save_model_view(est, X, args.show)
        print(f"wrote {args.show}: the images as the model sees them")
    return 0


def cmd_serve(args):
    """``perceptron serve``: the web app of a model, in the browser."""
    if args.model_path is not None and not os.path.exists(args.model_path):
        raise UserError(f"no model file at {args.model_path}")
    if not 1 <= args.port <= 65535:
        raise UserError(f"--port must be in 1..65535, got {args.port}")
    from .web import serve

    serve(args.model_path, host=args.host, port=args.port, data_home=args.data_home)
    return 0


def cmd_compare(args):
    """``perceptron compare``: several models trained and tested on one split."""
    from .compare import compare, format_comparison

    if args.out is not None:
        check_output_folder(args.out, "--out")
    _note(args, f"Training {', '.join(args.models)} on {args.dataset}")
    with _progress_to_stderr():
        rows = compare(args.models, args.dataset, epochs=args.epochs,
                       data_home=args.data_home, random_state=args.seed,
                       n_threads=args.threads, verbose=_estimator_verbosity(args),
                       download=not args.no_download)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(format_comparison(rows))
    if args.out is not None:
        path = os.path.join(args.out, "comparison.json")
        write_json(path, rows, "--out")
        _note(args, f"Wrote {path}")
    return 0


# ------------------------------------------------------------------- parser
class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (and a pointer to --help)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _int_list(text):
    """``--hidden 128,64`` -> (128, 64)."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected sizes separated by commas, such as 128,64; got {text!r}") from None
    return values


def _conv_list(text):
    """``--conv 32x3,64x5`` -> ((32, 3), (64, 5)); the kernel size defaults to 3."""
    layers = []
    for item in text.split(","):
        filters, _, kernel = item.strip().partition("x")
        try:
            layers.append((int(filters), int(kernel) if kernel else 3))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected FILTERSxKERNEL layers separated by commas, such as 32x3,64x3; "
                f"got {text!r}") from None
    return tuple(layers)


def _model_list(text):
    """``--models perceptron,mlp`` -> ["perceptron", "mlp"], each a known model."""
    models = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if not models or unknown:
        raise argparse.ArgumentTypeError(
            f"expected models among {', '.join(MODELS)} separated by commas, got {text!r}")
    return models


def _add_verbosity_options(p, top=False):
    # on the top-level parser and on each command, so that both
    # "perceptron -q train" and "perceptron train -q" work
    default = (lambda value: value) if top else (lambda value: argparse.SUPPRESS)
    group = p.add_argument_group("messages")
    group.add_argument("-q", "--quiet", action="store_true", default=default(False),
                       help="only the results: no progress bar, notes or hints")
    group.add_argument("-v", "--verbose", action="count", default=default(0),
                       help="also one line per epoch while training")


def _add_data_options(p, default="digits"):
    group = p.add_argument_group("data")
    if default is None:
        help_ = "test set to use (default: the one the model was trained on)"
    else:
        help_ = f"data set (default: {default}, the bundled 8x8 digits, no download)"
    group.add_argument("--dataset", choices=DATASETS, default=default, help=help_)
    group.add_argument("--data-home", default=None, metavar="FOLDER",
                       help="folder holding or receiving MNIST/Fashion-MNIST "
                            "(default: $PERCEPTRON_DATA or ~/perceptron_data)")
    group.add_argument("--no-download", action="store_true",
                       help="never download; fail if the files are not found locally")


def _add_run_options(group):
    group.add_argument("--epochs", type=int, default=None,
                       help="at most this many passes over the training set; training "
                            "stops earlier once the loss stops improving (default: 10 on "
                            "MNIST/Fashion-MNIST; on digits 300 for the MLP, 200 for the "
                            "perceptron, 100 for the CNN)")
    group.add_argument("--seed", type=int, default=0,
                       help="random seed: same seed, same model (default: 0)")
    group.add_argument("--threads", type=int, default=None,
                       help="threads of the kernels (default: $OMP_NUM_THREADS or every core)")


def _add_model_options(p):
    group = p.add_argument_group("model")
    group.add_argument("--model", choices=MODELS, default="mlp",
                       help="perceptron: one layer; mlp: hidden layers; cnn: convolutions "
                            "(default: mlp)")
    group.add_argument("--hidden", type=_int_list, default=None, metavar="SIZES",
                       help="hidden layer sizes, e.g. 256,128 (mlp; the dense layers of "
                            "the cnn) (default: 100 on digits, else 100,100; cnn: 128 on "
                            "digits, else 64)")
    group.add_argument("--conv", type=_conv_list, default=None, metavar="LAYERS",
                       help="convolutions as FILTERSxKERNEL, e.g. 32x3,64x3 (cnn) "
                            "(default: 32x3,64x3,64x3; on digits 32x3,64x3)")
    group.add_argument("--dropout", type=float, default=None, metavar="RATE",
                       help="fraction of hidden units dropped while training (mlp, cnn) "
                            "(default: 0; 0.4 for the cnn on digits)")


def _add_training_options(p):
    group = p.add_argument_group("training")
    _add_run_options(group)
    group.add_argument("--solver", choices=("sgd", "adam", "rmsprop"), default=None,
                       help="optimizer (default: adam; rmsprop for the cnn)")
    group.add_argument("--learning-rate", type=float, default=None, metavar="RATE",
                       help="initial step size (default: 0.001; 0.003 for the perceptron)")
    group.add_argument("--batch-size", type=int, default=None, metavar="N",
                       help="images per mini-batch (default: 128; 32 for the cnn on "
                            "digits)")
    group.add_argument("--alpha", type=float, default=None,
                       help="L2 penalty on the weights (default: 0.0001 for the mlp, else 0)")


def _add_training_control_options(p):
    group = p.add_argument_group("training control")
    group.add_argument("--validation-fraction", type=float, default=None, metavar="F",
                       help="hold out this fraction of the training images (stratified) "
                            "and report validation loss and accuracy after each epoch")
    group.add_argument("--early-stopping", action="store_true",
                       help="stop when the validation loss (the training loss without a "
                            "validation set) stalls, and keep the best epoch's weights; "
                            "holds out 0.1 unless --validation-fraction says otherwise")
    group.add_argument("--patience", type=int, default=5,
                       help="epochs without improvement before --early-stopping stops "
                            "(default: 5)")
    group.add_argument("--lr-schedule", choices=("constant", "cosine", "step", "exponential"),
                       default="constant",
                       help="step size schedule over the epochs (default: constant)")
    group.add_argument("--checkpoint", default=None, metavar="PATH",
                       help="save the best model so far to PATH after each epoch that "
                            "improves ({epoch} in PATH: one file per epoch)")


def _add_train_parser(sub):
    p = sub.add_parser("train", help="train a model; save it, its metrics and pictures",
                       description="Train a model and save it (model.npz), its test "
                                   "metrics (metrics.json) and, with --plots, pictures.")
    _add_model_options(p)
    _add_data_options(p)
    _add_training_options(p)
    _add_training_control_options(p)
    group = p.add_argument_group("output")
    group.add_argument("--out", default="perceptron-output", metavar="FOLDER",
                       help="output folder, created if needed (default: perceptron-output)")
    group.add_argument("--plots", action="store_true",
                       help="also draw the confusion matrix, learning curves, mistakes "
                            "and weights as PNG files")
    _add_verbosity_options(p)
    p.set_defaults(func=cmd_train)


def _add_evaluate_parser(sub):
    p = sub.add_parser("evaluate", help="report a saved model's accuracy on a test set",
                       description="Report a saved model's accuracy, per-class scores and "
                                   "most confused classes on a test set.")
    p.add_argument("model_path", metavar="MODEL", help="a model.npz written by 'train'")
    _add_data_options(p, default=None)
    group = p.add_argument_group("output")
    group.add_argument("--json", action="store_true", help="print the report as JSON")
    _add_verbosity_options(p)
    p.set_defaults(func=cmd_evaluate)


def _add_predict_parser(sub):
    p = sub.add_parser("predict", help="predict the class of images",
                       description="Predict the class of each image with a saved model.")
    p.add_argument("model_path", metavar="MODEL", help="a model.npz written by 'train'")
    p.add_argument("images", nargs="+", metavar="IMAGE",
                   help="PNG/JPEG files of any size (dark ink on light paper or the "
                        "reverse), or .npy arrays of the model's pixels")
    group = p.add_argument_group("output")
    group.add_argument("--json", action="store_true",
                       help="print the predictions and all probabilities as JSON")
    group.add_argument("--show", metavar="OUT.png", default=None,
                       help="also save the images as the model sees them (after the "
                            "preprocessing), with its answers")
    _add_verbosity_options(p)
    p.set_defaults(func=cmd_predict)


def _add_serve_parser(sub):
    p = sub.add_parser("serve", help="draw digits in the browser: a local web app of a model",
                       description="Serve a model as a local web app: draw a digit or "
                                   "upload a photo and watch the model read it.")
    p.add_argument("model_path", metavar="MODEL", nargs="?", default=None,
                   help="a model.npz (default: a quick digits CNN, trained on first use "
                        "and kept in the data home)")
    group = p.add_argument_group("server")
    group.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default: 127.0.0.1, this machine only)")
    group.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    group.add_argument("--data-home", default=None, metavar="FOLDER",
                       help="where the quick model is kept")
    _add_verbosity_options(p)
    p.set_defaults(func=cmd_serve)


def _add_compare_parser(sub):
    p = sub.add_parser("compare", help="perceptron vs MLP vs CNN on the same split",
                       description="Train several models on the same data and compare "
                                   "their accuracy, time and size.")
    p.add_argument("--models", type=_model_list, default=list(MODELS), metavar="MODELS",
                   help=f"models to compare, separated by commas (default: {','.join(MODELS)})")
    _add_data_options(p)
    _add_run_options(p.add_argument_group("training"))
    group = p.add_argument_group("output")
    group.add_argument("--json", action="store_true", help="print the table as JSON")
    group.add_argument("--out", default=None, metavar="FOLDER",
                       help="also write comparison.json in this folder")
    _add_verbosity_options(p)
    p.set_defaults(func=cmd_compare)


def build_parser():
    """The ``perceptron`` command's argument parser."""
    parser = _Parser(
        prog="perceptron",
        description="Train and use neural-network classifiers of handwritten digits "
                    "and clothes (a perceptron, an MLP, a CNN).",
        epilog="Start with 'perceptron train' (seconds, on the bundled digits), then "
               "see 'perceptron COMMAND --help'.")
    parser.add_argument("--version", action="version", version=f"perceptron {__version__}")
    _add_verbosity_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)
    for add in (_add_train_parser, _add_evaluate_parser, _add_predict_parser,
                _add_serve_parser, _add_compare_parser):
        add(sub)
    return parser


# --------------------------------------------------------------------- main
def main(argv=None):
    """Entry point of the ``perceptron`` console script."""
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:
        # the reader went away (perceptron evaluate --json | head): stop
        # quietly, as the Python documentation recommends for SIGPIPE
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (UserError, ValueError, OSError, ImportError) as exc:
        message, hints = _describe_error(exc)
        lines = [f"perceptron {args.command}: error: {message}"]
        lines += [f"  {hint}" for hint in hints]
        print("\n".join(lines), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
