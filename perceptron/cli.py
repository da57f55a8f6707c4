"""The ``perceptron`` command: train, evaluate, predict, compare.

Examples::

    perceptron train                                  # MLP on the bundled digits
    perceptron train --model cnn --dataset fashion-mnist --epochs 10 --plots
    perceptron evaluate perceptron-output/model.npz --dataset digits
    perceptron predict perceptron-output/model.npz my_digit.png
    perceptron compare --dataset digits

User errors (a bad option value, a missing file, an offline download) print
one line on standard error and exit with status 2; no traceback.
"""

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np

DATASETS = ("digits", "mnist", "fashion-mnist")


class UserError(Exception):
    """An error the user can fix; printed as one line."""


# ----------------------------------------------------------------- helpers
def _load_data(args):
    from .datasets import load_dataset

    return load_dataset(args.dataset, data_home=args.data_home,
                        download=not args.no_download)


def _target_names(dataset):
    if dataset == "fashion-mnist":
        from .datasets._sources import FASHION_MNIST_CLASSES

        return list(FASHION_MNIST_CLASSES)
    return None


def _write_json(path, payload):
    tmp = path + ".part"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=2)
    os.replace(tmp, path)


def _save_plots(est, X_test, y_test, out, model):
    """Write the pictures of issue #5 as PNG files; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import plotting

    figures = {
        "confusion_matrix.png": lambda: plotting.plot_confusion_matrix(est, X_test, y_test),
        "confusion_matrix_normalized.png": lambda: plotting.plot_confusion_matrix(
            est, X_test, y_test, normalize="true"),
        "learning_curves.png": lambda: plotting.plot_learning_curves(est),
        "misclassified.png": lambda: plotting.plot_misclassified(est, X_test, y_test),
        "predictions.png": lambda: plotting.plot_predictions(est, X_test, y_test),
    }
    if model == "cnn":
        figures["filters.png"] = lambda: plotting.plot_filters(est, layer=0)
        figures["feature_maps.png"] = lambda: plotting.plot_feature_maps(est, X_test[0])
    else:
        figures["weights.png"] = lambda: plotting.plot_weights(est)
    written = []
    for name, draw in figures.items():
        fig = draw()
        path = os.path.join(out, name)
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
        written.append(path)
    return written


def _progress(args, text):
    if not args.quiet:
        print(text, file=sys.stderr)


# ----------------------------------------------------------------- commands
def cmd_train(args):
    from sklearn.exceptions import ConvergenceWarning

    from .compare import make_estimator
    from .metrics import classification_summary, format_summary

    X_train, X_test, y_train, y_test = _load_data(args)
    est = make_estimator(args.model, args.dataset, epochs=args.epochs,
                         random_state=args.seed, n_threads=args.threads,
                         verbose=not args.quiet)
    X_train, y_train, validation = _training_control(args, est, X_train, y_train)
    _progress(args, f"Training {type(est).__name__} on {args.dataset} "
                    f"({X_train.shape[0]} images, {X_train.shape[1]} pixels)")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X_train, y_train, **validation)
    fit_time = time.perf_counter() - start
    summary = classification_summary(est, X_test, y_test,
                                     target_names=_target_names(args.dataset))
    os.makedirs(args.out, exist_ok=True)
    model_path = est.save(os.path.join(args.out, "model.npz"))
    metrics = {
        "model": args.model,
        "estimator": type(est).__name__,
        "params": {k: repr(v) for k, v in est.get_params().items()},
        "dataset": args.dataset,
        "n_train": int(X_train.shape[0]),
        "n_test": int(X_test.shape[0]),
        "epochs": est.n_iter_,
        "fit_time_s": fit_time,
        "seconds_per_epoch": est.fit_time_ / max(est.n_iter_, 1),
        "loss_curve": est.loss_curve_,
        "train_accuracy_curve": est.train_scores_,
        "history": est.history_,
        "test": summary,
    }
    metrics_path = os.path.join(args.out, "metrics.json")
    _write_json(metrics_path, metrics)
    written = [model_path, metrics_path]
    if args.plots:
        written += _save_plots(est, X_test, y_test, args.out, args.model)
    print(format_summary(summary))
    print(f"\nfit time: {fit_time:.2f} s ({metrics['seconds_per_epoch']:.3f} s/epoch, "
          f"{est.n_iter_} epochs)")
    print("wrote:\n  " + "\n  ".join(written))
    return 0


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
        if not 0 < fraction < 1:
            raise UserError(f"--validation-fraction must be between 0 and 1, got {fraction}")
        X, X_val, y, y_val = train_test_split(X, y, test_size=fraction, stratify=y,
                                              random_state=args.seed)
        validation = {"X_val": X_val, "y_val": y_val}
    monitor = "val_loss" if validation else "loss"
    callbacks = []
    if args.early_stopping:
        if args.patience < 1:
            raise UserError(f"--patience must be at least 1, got {args.patience}")
        callbacks.append(EarlyStopping(monitor, patience=args.patience,
                                       verbose=not args.quiet))
    if args.lr_schedule != "constant":
        callbacks.append(LearningRateScheduler(args.lr_schedule))
    if args.checkpoint:
        callbacks.append(ModelCheckpoint(args.checkpoint, monitor=monitor))
    est.set_params(callbacks=callbacks or None)
    return X, y, validation


def _load_model(path):
    from . import load

    if not os.path.exists(path):
        raise UserError(f"no model file at {path}")
    return load(path)


def cmd_evaluate(args):
    from .metrics import classification_summary, format_summary

    est = _load_model(args.model_path)
    _, X_test, _, y_test = _load_data(args)
    if X_test.shape[1] != est.n_features_in_:
        raise UserError(
            f"the model takes {est.n_features_in_} pixels per image but {args.dataset} "
            f"images have {X_test.shape[1]}: evaluate it on the data set it was trained on")
    summary = classification_summary(est, X_test, y_test,
                                     target_names=_target_names(args.dataset))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_summary(summary))
    return 0


def _images_to_features(paths, n_features):
    """Image files (or .npy arrays) -> rows of ``n_features`` pixels in [0, 1]."""
    rows = []
    for path in paths:
        if not os.path.exists(path):
            raise UserError(f"no such image file: {path}")
        if path.endswith(".npy"):
            arr = np.load(path, allow_pickle=False).astype(np.float64)
            if arr.size != n_features:
                raise UserError(f"{path} has {arr.size} values; the model takes {n_features}")
            rows.append(arr.reshape(-1))
            continue
        from .preprocessing import digit_field, preprocess_digit_image

        try:
            side, box = digit_field(n_features)
        except ValueError:
            raise UserError("this model does not take square images; give a .npy array") \
                from None
        rows.append(np.asarray(preprocess_digit_image(path, size=side, box=box)).reshape(-1))
    return np.vstack(rows)


def _save_model_view(est, X, path):
    """``predict --show``: the images as the model sees them, with its answers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import plot_predictions

    # values as the model reads them: ink 1 is white, background 0 black
    fig = plot_predictions(est, X, n=X.shape[0], cmap="gray")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def cmd_predict(args):
    if args.show is not None:
        folder = os.path.dirname(os.path.abspath(args.show))
        if not os.path.isdir(folder):
            raise UserError(f"--show: no folder {folder} to write {args.show} into")
    est = _load_model(args.model_path)
    X = _images_to_features(args.images, est.n_features_in_)
    proba = est.predict_proba(X)
    pred = est.classes_[np.argmax(proba, axis=1)]
    for path, label, p in zip(args.images, pred, proba):
        probs = "  ".join(f"{c}:{q:.3f}" for c, q in zip(est.classes_, p))
        print(f"{path}: {label} (probability {p.max():.3f})")
        print(f"  {probs}")
    if args.show is not None:
        _save_model_view(est, X, args.show)
        print(f"wrote {args.show}: the images as the model sees them")
    return 0


def cmd_serve(args):
    if args.model_path is not None and not os.path.exists(args.model_path):
        raise UserError(f"no model file at {args.model_path}")
    if not 1 <= args.port <= 65535:
        raise UserError(f"--port must be in 1..65535, got {args.port}")
    from .web import serve

    serve(args.model_path, host=args.host, port=args.port, data_home=args.data_home)
    return 0


def cmd_compare(args):
    from .compare import compare, format_comparison

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    rows = compare(models, args.dataset, epochs=args.epochs, data_home=args.data_home,
                   random_state=args.seed, n_threads=args.threads,
                   download=not args.no_download)
    print(format_comparison(rows))
    if args.json:
        _write_json(args.json, rows)
    return 0


# ----------------------------------------------------------------- parser
def _add_data_options(p):
    p.add_argument("--dataset", choices=DATASETS, default="digits",
                   help="data set (default: the bundled 8x8 digits, no network)")
    p.add_argument("--data-home", default=None,
                   help="folder holding or receiving MNIST/Fashion-MNIST files")
    p.add_argument("--no-download", action="store_true",
                   help="never download; fail if the files are not found locally")


def _add_run_options(p):
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs (default: 10 on MNIST/Fashion-MNIST; on digits 200 for "
                        "the perceptron, 100 for the MLP, 30 for the CNN)")
    p.add_argument("--seed", type=int, default=0, help="random_state (default 0)")
    p.add_argument("--threads", type=int, default=None,
                   help="kernel threads (default: OMP_NUM_THREADS or all cores)")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="perceptron",
        description="Train and use neural-network digit classifiers.")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model, save it and its metrics")
    p.add_argument("--model", choices=("perceptron", "mlp", "cnn"), default="mlp")
    _add_data_options(p)
    _add_run_options(p)
    p.add_argument("--out", default="perceptron-output",
                   help="output folder (default: ./perceptron-output)")
    p.add_argument("--plots", action="store_true",
                   help="also write confusion matrix, curves, mistakes, weights as PNG")
    p.add_argument("--validation-fraction", type=float, default=None, metavar="F",
                   help="hold out this fraction of the training images (stratified) and "
                        "report validation loss and accuracy after each epoch")
    p.add_argument("--early-stopping", action="store_true",
                   help="stop when the validation loss (the training loss without a "
                        "validation set) stalls, and keep the best epoch's weights; "
                        "holds out 0.1 unless --validation-fraction says otherwise")
    p.add_argument("--patience", type=int, default=5,
                   help="epochs without improvement before --early-stopping stops "
                        "(default 5)")
    p.add_argument("--lr-schedule", choices=("constant", "cosine", "step", "exponential"),
                   default="constant",
                   help="step size schedule over the epochs (default constant)")
    p.add_argument("--checkpoint", default=None, metavar="PATH",
                   help="save the best model so far to PATH after each epoch that "
                        "improves ({epoch} in PATH: one file per epoch)")
    p.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="report a saved model's accuracy on a test set")
    p.add_argument("model_path", help="a model.npz written by 'train'")
    _add_data_options(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="predict the digit in image files")
    p.add_argument("model_path")
    p.add_argument("images", nargs="+", help="PNG/JPEG files (any size) or .npy arrays")
    p.add_argument("--show", metavar="OUT.png", default=None,
                   help="also save the images as the model sees them (after the "
                        "preprocessing), with its answers")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("serve", help="draw digits in the browser: a local web app of a model")
    p.add_argument("model_path", nargs="?", default=None,
                   help="a model.npz (default: a quick digits CNN, trained on first use "
                        "and kept in the data home)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--data-home", default=None, help="where the quick model is kept")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("compare", help="perceptron vs MLP vs CNN on the same split")
    p.add_argument("--models", default="perceptron,mlp,cnn")
    _add_data_options(p)
    _add_run_options(p)
    p.add_argument("--json", default=None, help="also write the table to this JSON file")
    p.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_compare)
    return parser


def main(argv=None):
    """Entry point of the ``perceptron`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.quiet = getattr(args, "quiet", False)
    if args.quiet:
        os.environ.setdefault("TQDM_DISABLE", "1")
    try:
        return args.func(args)
    except (UserError, ValueError, OSError, ImportError) as exc:
        message = " ".join(str(exc).split())  # one line, however the error was worded
        print(f"perceptron {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
