"""MLP side by side: perceptron vs scikit-learn vs PyTorch-CPU on Fashion-MNIST.

The same network and training for everyone -- 784-100-100-10, ReLU, softmax +
cross-entropy, Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8), batch 128, float32,
one shuffled pass over the training set per epoch, the same L2 penalty
(``--alpha``, default 0 for all three) -- trained for the same number of
epochs in ONE process, the libraries' epochs interleaved round by round so
that load from other jobs on the machine hits all of them alike.

Reported (printed as markdown, written to ``benchmarks/results/mlp.md`` and the
raw numbers to ``mlp.json``):

- median seconds per epoch, and the ratio ``their time / our time``;
- test accuracy after the same number of epochs;
- 1 -> N thread speedup of ours, scikit-learn and torch (N = ``--threads``,
  default 2), each library also run on 1 thread;
- ``predict_proba`` on the test set (10k images): median of several calls;
- the machine: CPU, load, CPU used by other processes during each
  library's epochs, library versions, thread settings, the exact command.

How each library runs an epoch
------------------------------
- perceptron: ``MLPDigitClassifier(...).partial_fit(X, y, classes)`` -- one
  epoch per call, Adam state kept between calls; ``n_threads=N``.
- scikit-learn: ``MLPClassifier(...).partial_fit(X, y, classes)`` -- one epoch
  per call, Adam state kept (``warm_start`` + ``max_iter=1`` would re-create
  the optimizer each call); BLAS limited to N threads with threadpoolctl.
- PyTorch: ``nn.Sequential(Linear, ReLU, Linear, ReLU, Linear)``,
  ``CrossEntropyLoss``, ``torch.optim.Adam`` (``fused=True`` by default, its
  fastest CPU implementation; ``--torch-adam``), a ``torch.randperm`` per
  epoch and manual slicing (no DataLoader), ``torch.set_num_threads(N)``.
  Weights start Glorot-uniform with zero biases, like ours.

Usage::

    PYTHONPATH=. python benchmarks/bench_mlp.py              # 10 epochs, full data
    PYTHONPATH=. python benchmarks/bench_mlp.py --quick      # 3 epochs on 10k samples
    PYTHONPATH=. python benchmarks/bench_mlp.py --epochs 5 --threads 2 --no-torch
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

HIDDEN = (100, 100)
BATCH_SIZE = 128
LR = 1e-3
BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-8
N_CLASSES = 10

#: targets from the issue: (what, threshold)
TARGET_VS_SKLEARN = 2.5
TARGET_VS_TORCH = 2.0
TARGET_SCALING = 1.7
TARGET_PREDICT_VS_TORCH = 1.0
#: "equal or better test accuracy": one seed's test accuracy after 10 epochs
#: moves by up to a point between seeds (seeds 0-3, 2026-11-25: ours 87.9-88.6%,
#: PyTorch 87.5-88.4%, scikit-learn 87.6-88.5%), so a lower accuracy by less than
#: this (half a percentage point) counts as a tie.
ACCURACY_TIE = 0.005


# --------------------------------------------------------------------------- contestants
class Ours:
    """perceptron.MLPDigitClassifier trained with partial_fit, one epoch per call."""

    library = "perceptron"

    def __init__(self, perceptron, n_threads, alpha, seed):
        import numpy as np

        self.n_threads = n_threads
        self.classes = np.arange(N_CLASSES)
        self.clf = perceptron.MLPDigitClassifier(
            hidden_layer_sizes=HIDDEN, activation="relu", solver="adam",
            learning_rate_init=LR, batch_size=BATCH_SIZE, alpha=alpha, beta_1=BETA_1,
            beta_2=BETA_2, epsilon=EPSILON, shuffle=True, dtype="float32",
            n_threads=n_threads, random_state=seed)

    def epoch(self, X, y):
        self.clf.partial_fit(X, y, classes=self.classes)
        return float(self.clf.loss_)

    def predict_proba(self, X):
        return self.clf.predict_proba(X)

    def describe(self):
        return {"n_threads": self.n_threads, "params": self.clf.get_params(),
                "dtype": str(self.clf.coefs_[0].dtype) if hasattr(self.clf, "_network") else None}


class Sklearn:
    """sklearn.neural_network.MLPClassifier trained with partial_fit (keeps Adam state)."""

    library = "scikit-learn"

    def __init__(self, n_threads, alpha, seed):
        import numpy as np
        from sklearn.neural_network import MLPClassifier

        self.n_threads = n_threads
        self.classes = np.arange(N_CLASSES)
        self.clf = MLPClassifier(
            hidden_layer_sizes=HIDDEN, activation="relu", solver="adam",
            learning_rate_init=LR, batch_size=BATCH_SIZE, alpha=alpha, beta_1=BETA_1,
            beta_2=BETA_2, epsilon=EPSILON, shuffle=True, random_state=seed)

    def epoch(self, X, y):
        with C.blas_threads(self.n_threads):
            if hasattr(self.clf, "coefs_"):
                self.clf.partial_fit(X, y)
            else:
                self.clf.partial_fit(X, y, classes=self.classes)
        return float(self.clf.loss_)

    def predict_proba(self, X):
        with C.blas_threads(self.n_threads):
            return self.clf.predict_proba(X)

    def computed_dtype(self, X):
        """The dtype sklearn actually works in: its weights' and its outputs'."""
        with C.blas_threads(self.n_threads):
            out = self.clf.predict_proba(X[:8])
        return {"coefs_": str(self.clf.coefs_[0].dtype),
                "intercepts_": str(self.clf.intercepts_[0].dtype),
                "predict_proba": str(out.dtype), "X": str(X.dtype)}

    def describe(self):
        return {"n_threads (BLAS)": self.n_threads, "params": self.clf.get_params()}


class Torch:
    """The same MLP in PyTorch eager mode, DataLoader-free manual batching."""

    library = "PyTorch"

    def __init__(self, torch, n_threads, alpha, seed, X_train, y_train, adam_impl):
        nn = torch.nn
        self.torch = torch
        self.n_threads = n_threads
        torch.manual_seed(seed)
        sizes = (X_train.shape[1],) + HIDDEN + (N_CLASSES,)
        layers = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            lin = nn.Linear(fan_in, fan_out)
            nn.init.xavier_uniform_(lin.weight)  # Glorot-uniform, as sklearn and ours
            nn.init.zeros_(lin.bias)
            layers.append(lin)
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        self.model = nn.Sequential(*layers)
        self.loss_fn = nn.CrossEntropyLoss()
        # L2 as sklearn defines it (0.5 * alpha * ||W||^2 / batch, weights only) is
        # Adam weight decay alpha / batch_size on the weights, none on the biases.
        weights = [p for name, p in self.model.named_parameters() if name.endswith("weight")]
        biases = [p for name, p in self.model.named_parameters() if name.endswith("bias")]
        groups = [{"params": weights, "weight_decay": alpha / BATCH_SIZE},
                  {"params": biases, "weight_decay": 0.0}]
        self.optimizer, self.adam_impl = C.make_torch_adam(
            torch, groups, lr=LR, betas=(BETA_1, BETA_2), eps=EPSILON, impl=adam_impl)
        self.generator = torch.Generator().manual_seed(seed)
        self.X = torch.from_numpy(X_train)
        self.y = torch.from_numpy(y_train)

    def epoch(self, X, y):
        # X, y are the NumPy arrays; the tensors sharing their memory were made once
        with C.torch_threads(self.torch, self.n_threads):
            return C.torch_train_epoch(self.torch, self.model, self.optimizer, self.loss_fn,
                                       self.X, self.y, BATCH_SIZE, self.generator)

    def predict_proba(self, X):
        with C.torch_threads(self.torch, self.n_threads):
            return C.torch_predict_proba(self.torch, self.model, X)

    def describe(self):
        return {"n_threads": self.n_threads, "adam": self.adam_impl,
                "model": str(self.model), "init": "xavier_uniform_ weights, zero biases"}


# --------------------------------------------------------------------------- run
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs per library (default 10, or 3 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="small run: 3 epochs on a 10k training subset, 3 predict repeats; "
                        "results are not written unless --write")
    p.add_argument("--threads", type=int, default=2,
                   help="threads for the main comparison (default 2, capped at the CPU count)")
    p.add_argument("--n-train", type=int, default=None,
                   help="random training subset size (default: all 60000; 10000 with --quick)")
    p.add_argument("--predict-repeats", type=int, default=None,
                   help="timed predict_proba calls per library (default 7; 3 with --quick)")
    p.add_argument("--alpha", type=float, default=0.0,
                   help="L2 penalty for all three (sklearn's definition; torch gets Adam "
                        "weight_decay=alpha/batch_size on weights). Default 0")
    p.add_argument("--seed", type=int, default=0, help="random_state / torch seed (default 0)")
    p.add_argument("--dataset", default="fashion-mnist", help="dataset name (default fashion-mnist)")
    p.add_argument("--torch-adam", choices=("fused", "foreach", "default"), default="fused",
                   help="torch.optim.Adam implementation (default fused: its fastest on CPU)")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    p.add_argument("--no-sklearn", action="store_true", help="leave scikit-learn out")
    p.add_argument("--no-scaling", action="store_true",
                   help="skip the 1-thread runs of each library (no thread-speedup numbers)")
    w = p.add_mutually_exclusive_group()
    w.add_argument("--write", dest="write", action="store_true", default=None,
                   help="write results/<name>.md and .json (default unless --quick)")
    w.add_argument("--no-write", dest="write", action="store_false", help="only print")
    p.add_argument("--name", default="mlp", help="results file stem (default mlp)")
    p.add_argument("--out-dir", default=None, help="results folder (default benchmarks/results)")
    p.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                   help="before starting, wait up to SECONDS for other processes to use "
                        "< 0.3 cores (shared machines); default 0: just record the load")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-epoch progress lines")
    args = p.parse_args(argv)
    if args.epochs is None:
        args.epochs = 3 if args.quick else 10
    if args.n_train is None and args.quick:
        args.n_train = 10_000
    if args.predict_repeats is None:
        args.predict_repeats = 3 if args.quick else 7
    if args.write is None:
        args.write = not args.quick
    if args.epochs < 1 or args.predict_repeats < 1:
        p.error("--epochs and --predict-repeats must be >= 1")
    args.threads = C.clamp_threads(args.threads)
    return args


def label(key):
    """Display name of a contestant key like ``torch@2``."""
    lib, threads = key.split("@")
    name = {"ours": "perceptron (ours)", "sklearn": "scikit-learn", "torch": "PyTorch-CPU"}[lib]
    return f"{name}", int(threads)


def main(argv=None):
    args = parse_args(argv)
    N = args.threads
    quiet = C.wait_for_quiet(args.wait_quiet)
    machine_start = C.machine_info()
    machine_start["others_cores_before_start"] = quiet
    print(f"# load at start: {machine_start['uptime']}; other processes used "
          f"{fmt_cores(quiet['others'])} just before the start", flush=True)

    perceptron = C.import_perceptron()
    torch, torch_msg = (None, "PyTorch left out (--no-torch).") if args.no_torch else C.optional_torch()
    if torch_msg:
        print(f"[bench] {torch_msg}", flush=True)

    t0 = time.perf_counter()
    X_train, X_test, y_train, y_test = C.load_data(args.dataset, n_train=args.n_train,
                                                   seed=args.seed)
    print(f"# data: {args.dataset} train {X_train.shape} test {X_test.shape} {X_train.dtype} "
          f"(loaded in {time.perf_counter() - t0:.1f} s)", flush=True)

    scaling = not args.no_scaling and N > 1
    thread_counts = [N] + ([1] if scaling else [])
    contestants = {}
    for n in thread_counts:
        contestants[f"ours@{n}"] = Ours(perceptron, n, args.alpha, args.seed)
    if not args.no_sklearn:
        for n in thread_counts:
            contestants[f"sklearn@{n}"] = Sklearn(n, args.alpha, args.seed)
    if torch is not None:
        for n in thread_counts:
            contestants[f"torch@{n}"] = Torch(torch, n, args.alpha, args.seed, X_train, y_train,
                                              args.torch_adam)

    def progress(r, key, timing):
        if args.quiet:
            return
        others = timing["others"]
        print(f"  epoch {r + 1}/{args.epochs}  {key:<10} {timing['wall']:7.3f} s  "
              f"cpu {timing['cpu']:6.2f} s  loss {timing.get('result', float('nan')):.4f}  "
              f"others {'?' if others is None else f'{others:.2f}'} cores", flush=True)

    print(f"# training: {args.epochs} epochs each, interleaved: {', '.join(contestants)}",
          flush=True)
    train_steps = {k: (lambda c=c: c.epoch(X_train, y_train)) for k, c in contestants.items()}
    train_timings = C.run_interleaved(train_steps, args.epochs, on_step=progress)

    accuracy = {}
    for key, c in contestants.items():
        proba = c.predict_proba(X_test)
        accuracy[key] = float((proba.argmax(axis=1) == y_test).mean())

    # predict_proba: one untimed warm-up each, then interleaved timed calls
    print(f"# predict_proba on {X_test.shape[0]} test images: {args.predict_repeats} calls each",
          flush=True)
    predict_steps = {k: (lambda c=c: c.predict_proba(X_test)) for k, c in contestants.items()}
    for fn in predict_steps.values():
        fn()
    predict_timings = C.run_interleaved(predict_steps, args.predict_repeats)

    sklearn_dtype = (contestants[f"sklearn@{N}"].computed_dtype(X_test)
                     if f"sklearn@{N}" in contestants else None)
    machine_end = C.machine_info()

    results = build_results(args, contestants, train_timings, predict_timings, accuracy,
                            sklearn_dtype, machine_start, machine_end, torch_msg,
                            (X_train.shape, X_test.shape))
    markdown = render_markdown(results)
    print()
    print(markdown)
    if args.write:
        md_path, json_path = C.write_results(args.name, markdown, results, args.out_dir)
        print(f"\n# wrote {md_path} and {json_path}")
    return results


# --------------------------------------------------------------------------- results
def build_results(args, contestants, train_timings, predict_timings, accuracy, sklearn_dtype,
                  machine_start, machine_end, torch_msg, shapes):
    N = args.threads
    epoch = {k: C.summarize(v) for k, v in train_timings.items()}
    epoch_q = {k: C.summarize(C.quiet_only(v)) for k, v in train_timings.items()}
    predict = {k: C.summarize(v) for k, v in predict_timings.items()}
    med = lambda table, key: table[key]["median"] if key in table else None  # noqa: E731

    def ours_key(key):
        return f"ours@{key.split('@')[1]}"

    def ratios(table):
        return {k: C.ratio(med(table, k), med(table, ours_key(k))) for k in table}

    def speedups(table):
        out = {}
        for lib in ("ours", "sklearn", "torch"):
            one, many = med(table, f"{lib}@1"), med(table, f"{lib}@{N}")
            if one is not None and many is not None:
                out[lib] = one / many
        return out

    epoch_ratio, epoch_ratio_q = ratios(epoch), ratios(epoch_q)
    predict_ratio = ratios(predict)
    speedup, speedup_q = speedups(epoch), speedups(epoch_q)

    acc_ours = accuracy.get(f"ours@{N}")

    def target(kind, key, threshold):
        r = epoch_ratio.get(key) if kind == "epoch" else predict_ratio.get(key)
        if r is None:
            return None
        out = {"ratio": r, "threshold": threshold, "speed_ok": r >= threshold}
        if kind == "epoch":
            out["accuracy_ours"], out["accuracy_other"] = acc_ours, accuracy[key]
            out["accuracy_ok"] = acc_ours >= accuracy[key] - ACCURACY_TIE
            out["met"] = out["speed_ok"] and out["accuracy_ok"]
            rq = epoch_ratio_q.get(key)
            out["ratio_quiet"] = rq
            out["met_quiet"] = None if rq is None else (rq >= threshold and out["accuracy_ok"])
        else:
            out["met"] = out["speed_ok"]
        return out

    def scaling_target():
        if "ours" not in speedup:
            return None
        q = speedup_q.get("ours")
        return {"ratio": speedup["ours"], "threshold": TARGET_SCALING,
                "met": speedup["ours"] >= TARGET_SCALING, "ratio_quiet": q,
                "met_quiet": None if q is None else q >= TARGET_SCALING}

    targets = {
        f"epoch vs scikit-learn >= {TARGET_VS_SKLEARN}x at >= accuracy":
            target("epoch", f"sklearn@{N}", TARGET_VS_SKLEARN),
        f"epoch vs PyTorch-CPU ({N} threads) >= {TARGET_VS_TORCH}x at >= accuracy":
            target("epoch", f"torch@{N}", TARGET_VS_TORCH),
        f"ours 1 -> {N} threads >= {TARGET_SCALING}x": scaling_target(),
        f"predict_proba on {shapes[1][0]}: ours no slower than PyTorch ({N} threads)":
            target("predict", f"torch@{N}", TARGET_PREDICT_VS_TORCH),
    }
    others_all = [t["others"] for v in train_timings.values() for t in v
                  if t.get("others") is not None]
    return {
        "benchmark": "mlp",
        "command": C.command_line(),
        "settings": {
            "dataset": args.dataset, "train_shape": shapes[0], "test_shape": shapes[1],
            "hidden_layer_sizes": HIDDEN, "activation": "relu", "solver": "adam",
            "learning_rate_init": LR, "beta_1": BETA_1, "beta_2": BETA_2, "epsilon": EPSILON,
            "batch_size": BATCH_SIZE, "alpha": args.alpha, "dtype": "float32",
            "epochs": args.epochs, "threads": N, "predict_repeats": args.predict_repeats,
            "seed": args.seed, "torch_adam": args.torch_adam, "quick": args.quick,
            "wait_quiet": args.wait_quiet,
        },
        "machine": {"start": machine_start, "end": machine_end,
                    "others_cores_during_training_median":
                        (sorted(others_all)[len(others_all) // 2] if others_all else None)},
        "torch_skipped": torch_msg,
        "sklearn_computed_dtype": sklearn_dtype,
        "contestants": {k: c.describe() for k, c in contestants.items()},
        "epoch_seconds": epoch,
        "epoch_ratio_vs_ours": epoch_ratio,
        "quiet_threshold_cores": C.QUIET_OTHERS,
        "epoch_seconds_quiet": epoch_q,
        "epoch_ratio_vs_ours_quiet": epoch_ratio_q,
        "thread_speedup_quiet": speedup_q,
        "test_accuracy": accuracy,
        "final_train_loss": {k: v[-1].get("result") for k, v in train_timings.items()},
        "thread_speedup": speedup,
        "predict_proba_seconds": predict,
        "predict_proba_ratio_vs_ours": predict_ratio,
        "targets": targets,
        "raw": {"epochs": train_timings, "predict_proba": predict_timings},
    }


def render_markdown(res):
    s = res["settings"]
    N = s["threads"]
    ms, me = res["machine"]["start"], res["machine"]["end"]
    v = ms["versions"]
    lines = [
        "# MLP benchmark: perceptron vs scikit-learn vs PyTorch-CPU",
        "",
        f"Command: `{res['command']}`",
        "",
        f"- Date: {ms['date']}; git {((ms.get('git') or {}).get('commit') or '?')[:10]}"
        + (" (with uncommitted library changes)"
           if (ms.get("git") or {}).get("uncommitted_library_changes") else ""),
        f"- Machine: {ms['cpu_model']}, {ms['cpu_count']} CPUs; load average "
        f"{ms['load_average']} at start, {me['load_average']} at end; other processes used "
        f"{fmt_cores((ms.get('others_cores_before_start') or {}).get('others'))} just before "
        f"the start and a median "
        f"{fmt_cores(res['machine']['others_cores_during_training_median'])} "
        f"during the training epochs (shared machine: the numbers that matter are the "
        f"side-by-side ratios)",
        f"- Versions: perceptron {v.get('perceptron')}, NumPy {v.get('numpy')}, SciPy "
        f"{v.get('scipy')}, scikit-learn {v.get('sklearn')}, "
        f"PyTorch {v.get('torch') or 'not installed'}, "
        f"Python {ms['python']}",
        f"- Threads: {N} for the comparison (ours `n_threads={N}`, scikit-learn's BLAS via "
        f"threadpoolctl, `torch.set_num_threads({N})`), 1 for the scaling rows; "
        f"thread env: {ms['thread_env'] or 'none set'}",
        f"- Work: {s['dataset']} {s['train_shape'][0]} train / {s['test_shape'][0]} test, "
        f"784-{'-'.join(map(str, s['hidden_layer_sizes']))}-10 ReLU, Adam lr {s['learning_rate_init']:g} "
        f"betas ({s['beta_1']}, {s['beta_2']}) eps {s['epsilon']:g}, batch {s['batch_size']}, "
        f"alpha {s['alpha']:g} for all, float32, {s['epochs']} epochs each, interleaved",
    ]
    if res["sklearn_computed_dtype"]:
        d = res["sklearn_computed_dtype"]
        lines.append(f"- scikit-learn computes in {d['coefs_']} (X {d['X']}, coefs_ "
                     f"{d['coefs_']}, predict_proba {d['predict_proba']})")
    if res["torch_skipped"]:
        lines.append(f"- {res['torch_skipped']}")

    ep, acc, loss, er = (res["epoch_seconds"], res["test_accuracy"], res["final_train_loss"],
                         res["epoch_ratio_vs_ours"])
    epq, erq, qt = res["epoch_seconds_quiet"], res["epoch_ratio_vs_ours_quiet"], res[
        "quiet_threshold_cores"]
    ref = lambda key, r: "1.00x (ref)" if key.startswith("ours") else C.fmt_ratio(r)  # noqa: E731
    rows = []
    for key in sorted(ep, key=order_key):
        name, threads = label(key)
        e, q = ep[key], epq[key]
        rows.append([name, threads, C.fmt_seconds(e["median"]), C.fmt_seconds(e["min"]),
                     ref(key, er[key]), C.fmt_pct(acc[key]),
                     f"{loss[key]:.4f}" if loss[key] is not None else None,
                     f"{e['median_cpu'] / e['median']:.2f}" if e.get("median_cpu") else None,
                     fmt_cores(e.get("median_others")),
                     f"{C.fmt_seconds(q['median'])} ({q['n']})",
                     ref(key, erq[key]) if q["n"] else "—"])
    lines += ["", f"## Training: seconds per epoch (median of {s['epochs']})", "",
              "Ratio = their time / our time at the same thread count (above 1: ours is faster). "
              "CPU/wall near the thread count means the threads had their cores; "
              "'others' is the CPU other processes used meanwhile (median). The last two "
              f"columns keep only the epochs during which other processes used < {qt} cores "
              "(chosen on the measured load, not on the times; count in brackets).", "",
              C.markdown_table(["library", "threads", "s/epoch", "min", "ratio vs ours",
                                f"test acc after {s['epochs']}", "final train loss",
                                "CPU/wall", "others", "quiet s/epoch (n)", "quiet ratio"],
                               rows)]

    sp, spq = res["thread_speedup"], res["thread_speedup_quiet"]
    if sp:
        rows = []
        for lib, name in (("ours", "perceptron (ours)"), ("sklearn", "scikit-learn"),
                          ("torch", "PyTorch-CPU")):
            if lib in sp:
                rows.append([name, C.fmt_seconds(ep[f"{lib}@1"]["median"]),
                             C.fmt_seconds(ep[f"{lib}@{N}"]["median"]), C.fmt_ratio(sp[lib]),
                             C.fmt_ratio(spq.get(lib))])
        lines += ["", f"## Thread scaling: 1 -> {N} threads (epoch time)", "",
                  C.markdown_table(["library", "1 thread", f"{N} threads", "speedup",
                                    "speedup (quiet epochs)"], rows)]

    pr, prr = res["predict_proba_seconds"], res["predict_proba_ratio_vs_ours"]
    rows = []
    for key in sorted(pr, key=order_key):
        name, threads = label(key)
        rows.append([name, threads, C.fmt_seconds(pr[key]["median"]),
                     C.fmt_seconds(pr[key]["min"]),
                     "1.00x (ref)" if key.startswith("ours") else C.fmt_ratio(prr[key])])
    lines += ["", f"## predict_proba on {s['test_shape'][0]} test images "
              f"(median of {s['predict_repeats']} calls)", "",
              C.markdown_table(["library", "threads", "median", "min", "ratio vs ours"], rows)]

    rows = []
    for what, t in res["targets"].items():
        if t is None:
            rows.append([what, "—", "—", "n/a", "—", "n/a"])
            continue
        got = C.fmt_ratio(t["ratio"])
        if "accuracy_ours" in t:
            got += f" (acc {C.fmt_pct(t['accuracy_ours'])} vs {C.fmt_pct(t['accuracy_other'])})"
        quiet = "ratio_quiet" in t
        rows.append([what, f">= {t['threshold']}x", got, C.verdict(t["met"]),
                     C.fmt_ratio(t["ratio_quiet"]) if quiet else "—",
                     C.verdict(t["met_quiet"]) if quiet else "n/a"])
    lines += ["", "## Targets", "",
              "Verdicts on the all-epochs medians, and on the quiet epochs only (same accuracy "
              "check).", "",
              C.markdown_table(["target", "needed", "measured (all)", "verdict",
                                "measured (quiet)", "verdict (quiet)"], rows,
                               align="lrrlrl"),
              "", "Notes:",
              "- One seed: test accuracy moves by up to a point between seeds, so the "
              "'at >= accuracy' check counts ours lower by less than "
              f"{100 * ACCURACY_TIE:.1f} percentage point as a tie.",
              "- Each library's epoch is one `partial_fit` call (ours, scikit-learn: input "
              "checks included, as a user pays them) or one manual-batching loop (PyTorch"
              + (f", `{res['contestants'][f'torch@{N}']['adam']}` Adam, eager mode"
                 if f"torch@{N}" in res["contestants"] else "") + ").",
              "- The L2 penalty is the same for all three: alpha = "
              f"{s['alpha']:g} (PyTorch: Adam weight_decay = alpha / batch_size on the weights "
              "only, scikit-learn's definition).",
              "- Raw per-epoch and per-call timings are in the JSON file next to this one."]
    return "\n".join(lines)


def order_key(key):
    lib, threads = key.split("@")
    return (-int(threads), {"ours": 0, "sklearn": 1, "torch": 2}[lib])


def fmt_cores(x):
    return "?" if x is None else f"{x:.2f} cores"


if __name__ == "__main__":
    main()
