"""Accuracy figures of the issues' "done when" lists, measured, with their configs.

Trains each documented configuration once on its data set's standard split and
reports the test accuracy reached within the epoch budget the issues set:

- PerceptronClassifier: >= 95 % on the digits split; >= 83 % on
  Fashion-MNIST within 10 epochs.
- MLPDigitClassifier: >= 97 % on digits; >= 89 % on Fashion-MNIST within 20
  epochs.
- ConvDigitClassifier: >= 98 % on digits; >= 91 % on Fashion-MNIST within 10
  epochs (the default network).

Run from the repository root::

    python benchmarks/bench_accuracy.py              # everything (~10 min on 2 cores)
    python benchmarks/bench_accuracy.py --only perceptron mlp

Writes ``benchmarks/results/accuracy.md`` and ``.json``.
"""

import argparse
import time
import warnings

import _common as C

#: name -> (dataset, estimator factory source, target accuracy)
CONFIGS = {
    "perceptron-digits": ("digits", "PerceptronClassifier(random_state=0)", 0.95),
    "perceptron-fashion": (
        "fashion-mnist", "PerceptronClassifier(max_iter=10, random_state=0)", 0.83),
    "perceptron-sigmoid-fashion": (
        "fashion-mnist",
        "PerceptronClassifier(activation='sigmoid', max_iter=10, random_state=0)", 0.83),
    "mlp-digits": ("digits", "MLPDigitClassifier(random_state=0)", 0.97),
    "mlp-fashion": (
        "fashion-mnist",
        "MLPDigitClassifier(hidden_layer_sizes=(512, 256), dropout=0.2, max_iter=20, "
        "random_state=0)", 0.89),
    "cnn-digits": (
        "digits",
        "ConvDigitClassifier(conv_layers=((32, 3), (64, 3)), dense_layers=(128,), "
        "dropout=0.4, batch_size=32, max_iter=30, random_state=0)", 0.98),
    "cnn-fashion": ("fashion-mnist", "ConvDigitClassifier(max_iter=10, random_state=0)", 0.91),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None,
                        help="prefixes of the configurations to run (perceptron, mlp, cnn)")
    args = parser.parse_args(argv)
    C.import_perceptron()
    import perceptron
    from sklearn.exceptions import ConvergenceWarning

    names = [n for n in CONFIGS
             if not args.only or any(n.startswith(p) for p in args.only)]
    data = {}
    rows, raw = [], []
    for name in names:
        dataset, source, target = CONFIGS[name]
        if dataset not in data:
            data[dataset] = C.load_data(dataset)
        X_train, X_test, y_train, y_test = data[dataset]
        est = eval(source, vars(perceptron))  # the configuration, exactly as printed
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X_train, y_train)
        fit_time = time.perf_counter() - start
        acc = float(est.score(X_test, y_test))
        print(f"{name}: {acc:.4f} (target {target:.2f}) in {est.n_iter_} epochs, "
              f"{fit_time:.1f} s", flush=True)
        rows.append([name, dataset, f"`{source}`", est.n_iter_, C.fmt_pct(acc),
                     C.fmt_pct(target, 0), C.verdict(acc >= target), f"{fit_time:.1f}"])
        raw.append({"name": name, "dataset": dataset, "config": source,
                    "epochs": est.n_iter_, "accuracy": acc, "target": target,
                    "fit_time_s": fit_time, "n_train": len(y_train), "n_test": len(y_test)})
    table = C.markdown_table(
        ["run", "data", "configuration", "epochs", "test accuracy", "target", "", "fit (s)"],
        rows, align="lllrrrcr")
    machine = C.machine_info()
    md = "\n".join([
        "# Accuracy of the documented configurations", "",
        f"Command: `{C.command_line()}`", "",
        table, "",
        f"Machine: {machine['cpu_model']}, {machine['cpu_count']} CPUs, load average "
        f"{machine['load_average']} at the end, {machine['date']}.", ""])
    print(md)
    if not args.only:
        C.write_results("accuracy", md, {"runs": raw, "machine": machine})


if __name__ == "__main__":
    main()
