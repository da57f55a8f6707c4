"""CNN side by side: perceptron's ConvDigitClassifier vs PyTorch-CPU on Fashion-MNIST.

The same network and training for both -- the Keras tutorial CNN that is
ConvDigitClassifier's default: conv 3x3 32 -> ReLU -> maxpool 2 -> conv 3x3 64
-> ReLU -> maxpool 2 -> conv 3x3 64 -> ReLU -> maxpool 2 -> flatten -> dense 64
ReLU -> dense 10, softmax + cross-entropy; RMSprop (lr 1e-3, rho 0.9, eps
1e-8), batch 128, float32, one shuffled pass over the training set per epoch;
Glorot-uniform weights (Keras' fans for convolutions) and zero biases for both --
trained for the same number of epochs in ONE process, the libraries' epochs
interleaved round by round so that load from other jobs hits both alike.

Reported (printed as markdown, written to ``benchmarks/results/cnn.md`` and the
raw numbers to ``cnn.json``):

- median seconds per epoch and the ratio ``torch time / our time``;
- test accuracy after the same number of epochs;
- 1 -> N thread speedup of ours and of torch (N = ``--threads``, default 2),
  from ``--scaling-epochs`` extra 1-thread epochs interleaved with the others;
- ``predict_proba`` on the 10k test images (median of several calls);
- peak resident memory (RSS) of one training epoch, each library in a fresh
  subprocess: the process's RSS high-water mark (``VmHWM``, reset just
  before the epoch through ``/proc/self/clear_refs``) against its RSS before
  the epoch with the data loaded; ``resource.getrusage``'s ``ru_maxrss`` is
  recorded too, but it starts at the parent's peak in a fork+exec child;
- the machine: CPU, load (``uptime``), CPU used by other processes during the
  epochs, versions, thread settings, the exact command.

How each library runs an epoch
------------------------------
- perceptron: ``ConvDigitClassifier(solver="rmsprop", ...).partial_fit(X, y,
  classes)`` on the flat ``(n, 784)`` float32 array -- one epoch per call,
  RMSprop state kept between calls; ``n_threads=N``.
- PyTorch: ``nn.Sequential`` of ``Conv2d``/``ReLU``/``MaxPool2d``/``Linear`` on
  ``(n, 1, 28, 28)`` tensors (NCHW, torch's default), ``CrossEntropyLoss``,
  ``torch.optim.RMSprop(lr, alpha=rho, eps)`` (the same update rule as ours:
  ``s = rho s + (1 - rho) g^2; w -= lr g / (sqrt(s) + eps)``), a
  ``torch.randperm`` per epoch and manual slicing (no DataLoader),
  ``torch.set_num_threads(N)``.

Usage::

    PYTHONPATH=. python benchmarks/bench_cnn.py              # 10 epochs, full data
    PYTHONPATH=. python benchmarks/bench_cnn.py --quick      # 2 epochs on 10k samples
    PYTHONPATH=. python benchmarks/bench_cnn.py --epochs 3 --no-torch --no-rss
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

CONV = ((32, 3), (64, 3), (64, 3))
DENSE = (64,)
#: "same" (the estimator's default) or "valid"; set by --padding
PADDING = "same"
BATCH_SIZE = 128
LR, RHO, EPSILON = 1e-3, 0.9, 1e-8
N_CLASSES = 10

#: targets from the issue
TARGET_VS_TORCH = 1.25
TARGET_SCALING = 1.7
TARGET_ACCURACY = 0.91


# --------------------------------------------------------------------------- contestants
class Ours:
    """perceptron.ConvDigitClassifier (its defaults) trained with partial_fit."""

    library = "perceptron"

    def __init__(self, perceptron, n_threads, seed):
        import numpy as np

        self.n_threads = n_threads
        self.classes = np.arange(N_CLASSES)
        self.clf = perceptron.ConvDigitClassifier(
            conv_layers=CONV, pool_size=2, padding=PADDING, dense_layers=DENSE,
            activation="relu", solver="rmsprop", learning_rate_init=LR, rho=RHO,
            epsilon=EPSILON, batch_size=BATCH_SIZE, alpha=0.0, dtype="float32",
            n_threads=n_threads, random_state=seed)

    def epoch(self, X, y):
        self.clf.partial_fit(X, y, classes=self.classes)
        return float(self.clf.loss_)

    def predict_proba(self, X):
        return self.clf.predict_proba(X)

    def describe(self):
        return {"n_threads": self.n_threads, "params": self.clf.get_params()}


class Torch:
    """The same CNN in PyTorch eager mode (NCHW), DataLoader-free manual batching."""

    library = "PyTorch"

    def __init__(self, torch, n_threads, seed, X_train, y_train):
        nn = torch.nn
        self.torch = torch
        self.n_threads = n_threads
        torch.manual_seed(seed)
        layers, channels, size = [], 1, 28
        for filters, k in CONV:
            conv = nn.Conv2d(channels, filters, k, padding="same" if PADDING == "same" else 0)
            # Keras' glorot_uniform for convolutions, as ours: fans include the kernel area
            nn.init.xavier_uniform_(conv.weight)
            nn.init.zeros_(conv.bias)
            layers += [conv, nn.ReLU(), nn.MaxPool2d(2)]
            out = size if PADDING == "same" else size - k + 1
            channels, size = filters, out // 2
        layers.append(nn.Flatten())
        fan_in = channels * size * size
        for units in DENSE + (N_CLASSES,):
            lin = nn.Linear(fan_in, units)
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)
            layers.append(lin)
            if units != N_CLASSES:
                layers.append(nn.ReLU())
            fan_in = units
        self.model = nn.Sequential(*layers)
        self.loss_fn = nn.CrossEntropyLoss()
        self.optimizer = torch.optim.RMSprop(self.model.parameters(), lr=LR, alpha=RHO,
                                             eps=EPSILON)
        self.generator = torch.Generator().manual_seed(seed)
        self.X = torch.from_numpy(X_train).reshape(-1, 1, 28, 28)
        self.y = torch.from_numpy(y_train)

    def epoch(self, X, y):
        with C.torch_threads(self.torch, self.n_threads):
            return C.torch_train_epoch(self.torch, self.model, self.optimizer, self.loss_fn,
                                       self.X, self.y, BATCH_SIZE, self.generator)

    def predict_proba(self, X):
        # in batches of 1024, like ConvDigitClassifier.predict_proba
        with C.torch_threads(self.torch, self.n_threads):
            return C.torch_predict_proba(self.torch, self.model, X.reshape(-1, 1, 28, 28),
                                         batch_size=1024)

    def describe(self):
        return {"n_threads": self.n_threads, "model": str(self.model),
                "optimizer": f"RMSprop(lr={LR}, alpha={RHO}, eps={EPSILON})",
                "init": "xavier_uniform_ weights, zero biases", "layout": "NCHW"}


# --------------------------------------------------------------------------- peak RSS (child)
def rss_child(lib, n_threads, n_train, dataset, seed):
    """Run in a fresh process: load data, build the model, run ONE epoch; print JSON."""
    C.import_perceptron()
    X_train, X_test, y_train, y_test = C.load_data(dataset, n_train=n_train, seed=seed)
    if lib == "ours":
        import perceptron

        contestant = Ours(perceptron, n_threads, seed)
    else:
        import torch

        contestant = Torch(torch, n_threads, seed, X_train, y_train)
    # Peak RSS of the epoch alone: VmHWM (the process's RSS high-water mark)
    # after resetting it to the current RSS through /proc/self/clear_refs.
    # (getrusage's ru_maxrss cannot be reset, and in a child started by
    # fork+exec it starts at the *parent's* peak, so it is reported only as a
    # cross-check.)
    reset = True
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        reset = False
    before = _status_mib("VmRSS")
    t0 = time.perf_counter()
    contestant.epoch(X_train, y_train)
    wall = time.perf_counter() - t0
    peak = _status_mib("VmHWM")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"rss_before_mib": before, "peak_mib": peak if reset else None,
                      "epoch_increase_mib": (peak - before) if reset else None,
                      "ru_maxrss_mib": maxrss, "epoch_seconds": wall}))


def _status_mib(field):
    """A ``kB`` field of /proc/self/status (VmRSS, VmHWM) in MiB, or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def measure_rss(lib, args):
    cmd = [sys.executable, str(Path(__file__).resolve()), "--rss-child", lib,
           "--threads", str(args.threads), "--dataset", args.dataset, "--seed", str(args.seed),
           "--padding", args.padding]
    if args.n_train is not None:
        cmd += ["--n-train", str(args.n_train)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        print(f"[bench] RSS child for {lib} failed:\n{out.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- run
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs per library at --threads (default 10, or 2 with --quick)")
    p.add_argument("--scaling-epochs", type=int, default=None,
                   help="1-thread epochs per library for the speedup, interleaved with the "
                        "first rounds (default 2, 1 with --quick; 0 = no scaling numbers)")
    p.add_argument("--quick", action="store_true",
                   help="small run: 2 epochs on a 10k training subset; results are not "
                        "written unless --write")
    p.add_argument("--threads", type=int, default=2,
                   help="threads for the main comparison (default 2, capped at the CPU count)")
    p.add_argument("--n-train", type=int, default=None,
                   help="random training subset size (default: all 60000; 10000 with --quick)")
    p.add_argument("--predict-repeats", type=int, default=None,
                   help="timed predict_proba calls per library (default 5; 2 with --quick)")
    p.add_argument("--seed", type=int, default=0, help="random_state / torch seed (default 0)")
    p.add_argument("--dataset", default="fashion-mnist", help="dataset name (default fashion-mnist)")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    p.add_argument("--no-rss", action="store_true", help="skip the peak-RSS subprocesses")
    w = p.add_mutually_exclusive_group()
    w.add_argument("--write", dest="write", action="store_true", default=None,
                   help="write results/<name>.md and .json (default unless --quick)")
    w.add_argument("--no-write", dest="write", action="store_false", help="only print")
    p.add_argument("--name", default=None,
                   help="results file stem (default: cnn, or cnn-valid with --padding valid)")
    p.add_argument("--padding", choices=("same", "valid"), default="same",
                   help="padding of the three convolutions (default same, the estimator's "
                        "default; valid shrinks the maps to 1x1 before the dense layer)")
    p.add_argument("--out-dir", default=None, help="results folder (default benchmarks/results)")
    p.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                   help="before starting, wait up to SECONDS for other processes to use "
                        "< 0.3 cores (shared machines); default 0: just record the load")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-epoch progress lines")
    p.add_argument("--rss-child", choices=("ours", "torch"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.epochs is None:
        args.epochs = 2 if args.quick else 10
    if args.scaling_epochs is None:
        args.scaling_epochs = 1 if args.quick else 2
    if args.n_train is None and args.quick:
        args.n_train = 10_000
    if args.predict_repeats is None:
        args.predict_repeats = 2 if args.quick else 5
    if args.write is None:
        args.write = not args.quick
    if args.epochs < 1 or args.predict_repeats < 1 or args.scaling_epochs < 0:
        p.error("--epochs and --predict-repeats must be >= 1, --scaling-epochs >= 0")
    args.scaling_epochs = min(args.scaling_epochs, args.epochs)
    args.threads = C.clamp_threads(args.threads)
    return args


def fmt_cores(x):
    return "?" if x is None else f"{x:.2f} cores"


def main(argv=None):
    global PADDING
    args = parse_args(argv)
    PADDING = args.padding
    if args.name is None:
        args.name = "cnn" if PADDING == "same" else "cnn-valid"
    if args.rss_child:
        return rss_child(args.rss_child, args.threads, args.n_train, args.dataset, args.seed)
    N = args.threads
    quiet = C.wait_for_quiet(args.wait_quiet)
    machine_start = C.machine_info()
    machine_start["others_cores_before_start"] = quiet
    print(f"# load at start: {machine_start['uptime']}; other processes used "
          f"{fmt_cores(quiet['others'])} just before the start", flush=True)

    perceptron = C.import_perceptron()
    torch, torch_msg = ((None, "PyTorch left out (--no-torch).") if args.no_torch
                        else C.optional_torch())
    if torch_msg:
        print(f"[bench] {torch_msg}", flush=True)

    t0 = time.perf_counter()
    X_train, X_test, y_train, y_test = C.load_data(args.dataset, n_train=args.n_train,
                                                   seed=args.seed)
    print(f"# data: {args.dataset} train {X_train.shape} test {X_test.shape} {X_train.dtype} "
          f"(loaded in {time.perf_counter() - t0:.1f} s)", flush=True)

    scaling = args.scaling_epochs > 0 and N > 1
    main_keys, contestants = [], {}
    contestants[f"ours@{N}"] = Ours(perceptron, N, args.seed)
    if torch is not None:
        contestants[f"torch@{N}"] = Torch(torch, N, args.seed, X_train, y_train)
    main_keys = list(contestants)
    if scaling:
        contestants["ours@1"] = Ours(perceptron, 1, args.seed)
        if torch is not None:
            contestants["torch@1"] = Torch(torch, 1, args.seed, X_train, y_train)

    def progress(r, key, timing):
        if args.quiet:
            return
        print(f"  round {r + 1}/{args.epochs}  {key:<9} {timing['wall']:7.2f} s  "
              f"cpu {timing['cpu']:6.2f} s  loss {timing.get('result', float('nan')):.4f}  "
              f"others {fmt_cores(timing['others'])}", flush=True)

    # rounds: the N-thread contestants every round, the 1-thread ones in the first
    # scaling_epochs rounds; each round in rotated order
    print(f"# training: {args.epochs} epochs at {N} threads"
          + (f" + {args.scaling_epochs} at 1 thread" if scaling else "")
          + f", interleaved: {', '.join(contestants)}", flush=True)
    train_timings = {k: [] for k in contestants}
    accuracy_per_epoch = {k: [] for k in main_keys}
    for r in range(args.epochs):
        keys = main_keys + ([k for k in contestants if k not in main_keys]
                            if r < args.scaling_epochs else [])
        steps = {k: (lambda c=contestants[k]: c.epoch(X_train, y_train)) for k in keys}
        shift = r % len(keys)
        steps = {k: steps[k] for k in keys[shift:] + keys[:shift]}
        timings = C.run_interleaved(steps, 1, rotate=False,
                                    on_step=lambda _r, key, t, r=r: progress(r, key, t))
        for k, v in timings.items():
            for t in v:
                t["round"] = r
            train_timings[k] += v
        # test accuracy after every epoch (untimed), to see when 91 % is reached
        for k in main_keys:
            proba = contestants[k].predict_proba(X_test)
            accuracy_per_epoch[k].append(float((proba.argmax(axis=1) == y_test).mean()))
        if not args.quiet:
            print("  test accuracy: " + ", ".join(
                f"{k} {accuracy_per_epoch[k][-1]:.4f}" for k in main_keys), flush=True)

    accuracy = {k: v[-1] for k, v in accuracy_per_epoch.items()}

    print(f"# predict_proba on {X_test.shape[0]} test images: {args.predict_repeats} calls each",
          flush=True)
    predict_steps = {k: (lambda c=contestants[k]: c.predict_proba(X_test)) for k in main_keys}
    for fn in predict_steps.values():
        fn()
    predict_timings = C.run_interleaved(predict_steps, args.predict_repeats)

    rss = {}
    if not args.no_rss:
        for lib in ["ours"] + (["torch"] if torch is not None else []):
            print(f"# peak RSS of one training epoch: {lib} in a subprocess", flush=True)
            rss[lib] = measure_rss(lib, args)

    machine_end = C.machine_info()
    results = build_results(args, contestants, main_keys, train_timings, predict_timings,
                            accuracy, accuracy_per_epoch, rss, machine_start, machine_end,
                            torch_msg, (X_train.shape, X_test.shape))
    markdown = render_markdown(results)
    print()
    print(markdown)
    if args.write:
        md_path, json_path = C.write_results(args.name, markdown, results, args.out_dir)
        print(f"\n# wrote {md_path} and {json_path}")
    return results


# --------------------------------------------------------------------------- results
def build_results(args, contestants, main_keys, train_timings, predict_timings, accuracy,
                  accuracy_per_epoch, rss, machine_start, machine_end, torch_msg, shapes):
    N = args.threads
    epoch = {k: C.summarize(v) for k, v in train_timings.items()}
    predict = {k: C.summarize(v) for k, v in predict_timings.items()}
    med = lambda table, key: table[key]["median"] if key in table else None  # noqa: E731

    def ours_key(key):
        return f"ours@{key.split('@')[1]}"

    epoch_ratio = {k: C.ratio(med(epoch, k), med(epoch, ours_key(k))) for k in epoch}
    predict_ratio = {k: C.ratio(med(predict, k), med(predict, ours_key(k))) for k in predict}
    # paired per-round ratios (same round = same load): torch time / our time
    paired = {}
    for k in epoch:
        if k.startswith("torch"):
            ours_by_round = {t["round"]: t["wall"] for t in train_timings[ours_key(k)]}
            paired[k] = [t["wall"] / ours_by_round[t["round"]] for t in train_timings[k]
                         if t["round"] in ours_by_round]
    # 1 -> N threads: the fastest 1-thread epoch over the fastest N-thread one.
    # Minima, because load from other jobs only ever adds time, and it hurts
    # N threads far more than one (a descheduled thread stalls every barrier
    # of the team); the same-round median ratio is recorded too.
    speedup, speedup_same_rounds = {}, {}
    for lib in ("ours", "torch"):
        if f"{lib}@1" not in epoch or f"{lib}@{N}" not in epoch:
            continue
        speedup[lib] = epoch[f"{lib}@1"]["min"] / epoch[f"{lib}@{N}"]["min"]
        many = C.summarize([t for t in train_timings[f"{lib}@{N}"]
                            if t["round"] < args.scaling_epochs])["median"]
        speedup_same_rounds[lib] = med(epoch, f"{lib}@1") / many if many else None

    acc_ours = accuracy.get(f"ours@{N}")
    ratio_torch = epoch_ratio.get(f"torch@{N}")
    targets = {
        f"epoch vs PyTorch-CPU ({N} threads) >= {TARGET_VS_TORCH}x":
            None if ratio_torch is None else
            {"ratio": ratio_torch, "threshold": TARGET_VS_TORCH,
             "met": ratio_torch >= TARGET_VS_TORCH},
        f"ours 1 -> {N} threads >= {TARGET_SCALING}x":
            None if speedup.get("ours") is None else
            {"ratio": speedup["ours"], "threshold": TARGET_SCALING,
             "met": speedup["ours"] >= TARGET_SCALING},
        f"Fashion-MNIST test accuracy >= {TARGET_ACCURACY:.0%} within {args.epochs} epochs":
            {"accuracy": acc_ours, "threshold": TARGET_ACCURACY,
             "met": (acc_ours >= TARGET_ACCURACY) if args.epochs <= 10 else None},
    }
    others_all = [t["others"] for v in train_timings.values() for t in v
                  if t.get("others") is not None]
    return {
        "benchmark": "cnn",
        "command": C.command_line(),
        "settings": {
            "dataset": args.dataset, "train_shape": shapes[0], "test_shape": shapes[1],
            "conv_layers": CONV, "pool_size": 2, "padding": PADDING, "dense_layers": DENSE,
            "activation": "relu", "solver": "rmsprop", "learning_rate_init": LR, "rho": RHO,
            "epsilon": EPSILON, "batch_size": BATCH_SIZE, "dtype": "float32",
            "epochs": args.epochs, "scaling_epochs": args.scaling_epochs, "threads": N,
            "predict_repeats": args.predict_repeats, "seed": args.seed, "quick": args.quick,
            "wait_quiet": args.wait_quiet,
        },
        "machine": {"start": machine_start, "end": machine_end,
                    "others_cores_during_training_median":
                        (sorted(others_all)[len(others_all) // 2] if others_all else None)},
        "torch_skipped": torch_msg,
        "contestants": {k: c.describe() for k, c in contestants.items()},
        "epoch_seconds": epoch,
        "epoch_ratio_vs_ours": epoch_ratio,
        "epoch_ratio_paired_by_round": paired,
        "test_accuracy": accuracy,
        "test_accuracy_per_epoch": accuracy_per_epoch,
        "final_train_loss": {k: v[-1].get("result") for k, v in train_timings.items()},
        "thread_speedup": speedup,
        "thread_speedup_same_rounds_median": speedup_same_rounds,
        "predict_proba_seconds": predict,
        "predict_proba_ratio_vs_ours": predict_ratio,
        "peak_rss_one_epoch": rss,
        "targets": targets,
        "raw": {"epochs": train_timings, "predict_proba": predict_timings},
    }


def render_markdown(res):
    s = res["settings"]
    N = s["threads"]
    ms, me = res["machine"]["start"], res["machine"]["end"]
    v = ms["versions"]
    ep, acc = res["epoch_seconds"], res["test_accuracy"]
    lines = [
        "# CNN benchmark: perceptron ConvDigitClassifier vs PyTorch-CPU",
        "",
        f"Command: `{res['command']}`",
        "",
        f"- Date: {ms['date']}; git {((ms.get('git') or {}).get('commit') or '?')[:10]}",
        f"- Machine: {ms['cpu_model']}, {ms['cpu_count']} CPUs",
        f"- Load at start: `{ms['uptime']}`",
        f"- Load at end: `{me['uptime']}`",
        f"- Other processes during the training epochs (median): "
        f"{fmt_cores(res['machine']['others_cores_during_training_median'])}",
        f"- Versions: perceptron {v.get('perceptron')}, numpy {v.get('numpy')}, "
        f"scipy {v.get('scipy')}, torch {v.get('torch') or '—'}",
        f"- Data: {s['dataset']}, train {tuple(s['train_shape'])}, test {tuple(s['test_shape'])}, "
        "float32 in [0, 1]",
        f"- Network: conv {s['conv_layers']} (3x3, {s['padding']} padding, ReLU, 2x2 max-pool each) -> dense "
        f"{s['dense_layers']} ReLU -> 10 softmax; RMSprop lr {s['learning_rate_init']} rho "
        f"{s['rho']} eps {s['epsilon']}; batch {s['batch_size']}; {s['epochs']} epochs",
        "",
    ]
    if res["torch_skipped"]:
        lines += [f"> {res['torch_skipped']}", ""]
    rows = []
    for key in ep:
        lib, n = key.split("@")
        name = "perceptron (ours)" if lib == "ours" else "PyTorch-CPU"
        r = res["epoch_ratio_vs_ours"].get(key)
        rows.append([name, n, ep[key]["n"], C.fmt_seconds(ep[key]["median"]),
                     C.fmt_seconds(ep[key]["min"]),
                     "—" if lib == "ours" else C.fmt_ratio(r),
                     C.fmt_pct(acc.get(key)) if key in acc else "—",
                     f"{ep[key]['median_others']:.2f}" if ep[key].get("median_others") is not None
                     else "?"])
    lines += ["## Training epoch", "",
              C.markdown_table(["library", "threads", "epochs", "median s/epoch", "min",
                                "torch / ours", "test accuracy", "others (cores)"], rows),
              ""]
    per_epoch = res["test_accuracy_per_epoch"]
    if per_epoch:
        lines += ["Test accuracy after each epoch: " + "; ".join(
            f"{'ours' if k.startswith('ours') else 'PyTorch'}: "
            + ", ".join(f"{100 * a:.1f}" for a in v) for k, v in per_epoch.items()), ""]
    paired = res["epoch_ratio_paired_by_round"]
    if paired:
        lines += ["Paired by round (same load), torch time / our time: " + "; ".join(
            f"{k}: " + ", ".join(f"{x:.2f}" for x in vals) for k, vals in paired.items()), ""]
    if res["thread_speedup"]:
        same = res["thread_speedup_same_rounds_median"]
        lines += [f"1 -> {N} threads speedup, fastest 1-thread epoch / fastest {N}-thread epoch "
                  "(load only adds time, and hurts a team of threads more than one thread): "
                  + ", ".join(f"{'ours' if k == 'ours' else 'PyTorch'} {x:.2f}x"
                              for k, x in res["thread_speedup"].items() if x)
                  + f"; median of the same rounds: " + ", ".join(
                      f"{'ours' if k == 'ours' else 'PyTorch'} {x:.2f}x"
                      for k, x in same.items() if x), ""]
    pr = res["predict_proba_seconds"]
    rows = [["perceptron (ours)" if k.startswith("ours") else "PyTorch-CPU", k.split("@")[1],
             C.fmt_seconds(pr[k]["median"]), C.fmt_seconds(pr[k]["min"]),
             "—" if k.startswith("ours") else C.fmt_ratio(res["predict_proba_ratio_vs_ours"][k])]
            for k in pr]
    lines += [f"## predict_proba on {s['test_shape'][0]} images ({s['predict_repeats']} calls)", "",
              C.markdown_table(["library", "threads", "median", "min", "torch / ours"], rows), ""]
    rss = res["peak_rss_one_epoch"]
    if rss:
        mib = lambda r, k: "—" if r is None or r.get(k) is None else f"{r[k]:.0f} MiB"  # noqa: E731
        rows = [[("perceptron (ours)" if k == "ours" else "PyTorch-CPU"),
                 mib(r, "rss_before_mib"), mib(r, "peak_mib"), mib(r, "epoch_increase_mib")]
                for k, r in rss.items()]
        lines += [f"## Peak RSS of one training epoch ({N} threads, fresh subprocess each)", "",
                  C.markdown_table(["library", "RSS before the epoch (data loaded)",
                                    "peak RSS", "epoch increase"], rows), ""]
    rows = []
    for name, t in res["targets"].items():
        if t is None:
            rows.append([name, "—", "n/a"])
        elif "accuracy" in t:
            rows.append([name, C.fmt_pct(t["accuracy"]), C.verdict(t["met"])])
        else:
            rows.append([name, C.fmt_ratio(t["ratio"]), C.verdict(t["met"])])
    lines += ["## Targets", "", C.markdown_table(["target", "measured", "verdict"], rows,
                                                 align="lrl"), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
