"""Markdown tables from a pytest-benchmark JSON file written by ``benchmarks/``.

Usage (from the repository root)::

    python -m pytest benchmarks --full --benchmark-json=run.json
    python benchmarks/report.py run.json              # writes benchmarks/results/<family>.md
    python benchmarks/report.py run.json --print      # prints them only

Groups are named ``<family>: <what>`` (``mlp: epoch``, ``cnn: peak RSS of an
epoch``; ``accuracy``): each family becomes one page, each group one table.
A row is one record: library and threads (or the case), median and fastest
time, rounds, the ratio vs ours, then its ``extra_info``; values that every row
of a group shares (the work, the data sizes) are written once above the table.
"""

import argparse
import json
import statistics
from pathlib import Path

from harness import LABELS, REPLAY

RESULTS = Path(__file__).resolve().parent / "results"
TITLES = {"mlp": "MLP: perceptron vs scikit-learn vs PyTorch-CPU",
          "cnn": "CNN: perceptron's ConvDigitClassifier vs PyTorch-CPU",
          "accuracy": "Accuracy of the documented configurations",
          "callbacks": "What watching training costs: validation figures and callbacks",
          "web": "The web app under load, and reading a photo",
          "weights": "Sample and class weights: recall on rare classes, cost per epoch",
          "dask": "Grid search: one fit after another, joblib, and a Dask cluster",
          "openmp": "OpenMP: how the kernels' idle threads wait, on a quiet and a busy machine",
          "augment": "Augmentation: the cost of an epoch, and what it buys",
          "lbfgs": "Full-batch L-BFGS on the digits: perceptron vs scikit-learn"}

RATIO = ("The contestants of a comparison ran in interleaved rounds in one process: round i "
         "of each saw the same load. `ratio vs ours` is their median time / our median time at "
         "the same thread count (above 1: ours is faster); `per-round ratio` is the median over "
         "rounds of their time / our time in the same round. When the two disagree, the load "
         "changed during the run.")


def seconds(s):
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if s >= scale or unit == "µs":
            return f"{s / scale:.3g} {unit}"


def header(key):
    return key.removesuffix("_mib").removesuffix("_seconds").replace("_", " ")


def value(key, v):
    if key.endswith("_seconds"):
        return seconds(v)
    if key in ("test_accuracy", "target"):
        return f"{100 * v:.2f}%"
    if key.endswith("_mib"):
        return f"{v:.0f} MiB"
    if key == "config":
        return f"`{v}`"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def table(headers, rows):
    right = [i and str(v)[:1].isdigit() for i, v in enumerate(rows[0])]  # numbers right-aligned
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "".join(" ---: |" if r else " :--- |" for r in right)]
    return "\n".join(lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows])


def paired_ratio(theirs, ours):
    """Median over rounds of their time / our time (round i of both ran in the same round)."""
    return statistics.median(t / o for t, o in zip(theirs["stats"]["data"], ours["stats"]["data"]))


def group_section(name, benches):
    infos = [b["extra_info"] for b in benches]
    keys = list(dict.fromkeys(k for i in infos for k in i if k not in ("library", "threads")))
    shared = [k for k in keys
              if len(infos) > 1 and all(i.get(k) == infos[0].get(k) for i in infos)]
    columns = [k for k in keys if k not in shared]
    # ratios only between records of the same interleaved rounds (replayed by harness.REPLAY)
    ours = {i["threads"]: b for b, i in zip(benches, infos)
            if i.get("library") == "ours" and b["options"]["timer"] == str(REPLAY)}
    threads = any("threads" in i for i in infos)
    once = all(b["stats"]["rounds"] == 1 for b in benches)
    verdict = "target" in columns and "test_accuracy" in columns
    headers = (["library" if any("library" in i for i in infos) else "case"]
               + ["threads"] * threads + (["time"] if once else ["median", "min", "rounds"])
               + ["ratio vs ours", "per-round ratio"] * bool(ours) + [header(k) for k in columns]
               + ["target met"] * verdict)
    rows = []
    for bench, info in zip(benches, infos):
        stats, mine = bench["stats"], ours.get(info.get("threads"))
        row = [LABELS.get(info.get("library"), info.get("library") or bench["param"])]
        row += [info.get("threads", "")] * threads
        row += [seconds(stats["median"])] if once else [
            seconds(stats["median"]), seconds(stats["min"]), stats["rounds"]]
        if ours:
            row += ["", ""] if mine is None else [
                f"{stats['median'] / mine['stats']['median']:.2f}x",
                f"{paired_ratio(bench, mine):.2f}x"]
        row += [value(k, info[k]) if k in info else "" for k in columns]
        if verdict:
            row.append("yes" if info["test_accuracy"] >= info["target"] else "**no**")
        rows.append(row)
    lines = [f"## {name}", ""] + [f"- {header(k)}: {value(k, infos[0][k])}" for k in shared]
    lines += [""] * bool(shared) + [table(headers, rows), ""]
    scaling, top = [], max(i.get("threads", 1) for i in infos)
    for lib in dict.fromkeys(i.get("library") for i in infos):
        times = {i["threads"]: b["stats"]["median"] for b, i in zip(benches, infos)
                 if i.get("library") == lib and "threads" in i}
        if 1 in times and top in times and top > 1:
            scaling.append(f"{LABELS.get(lib, lib)} {times[1] / times[top]:.2f}x")
    if scaling:
        lines += [f"Speedup 1 -> {top} threads (median times): " + ", ".join(scaling), ""]
    return lines


def page(family, groups, run):
    m, c = run["machine_info"], run["commit_info"]
    lines = [
        f"# {TITLES.get(family.split('-')[0], family)}" + f" ({family})" * ("-" in family), "",
        f"- Date: {run['datetime'][:16].replace('T', ' ')} UTC; git {str(c.get('id'))[:10]}"
        + (" with uncommitted changes" if c.get("dirty") else "") + f" (branch {c.get('branch')})",
        f"- Machine: {m.get('cpu_model') or m['cpu'].get('brand_raw')}, {m.get('cpu_count')} CPUs;"
        f" threading variables: {m.get('thread_env') or 'none set'}",
        f"- Versions: Python {m['python_version']}, "
        + ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items()),
        f"- Command: `{m.get('command')}`, then `python benchmarks/report.py` on its JSON", ""]
    if any(b["options"]["timer"] == str(REPLAY) for benches in groups.values() for b in benches):
        lines += [RATIO, ""]
    for name, benches in groups.items():
        lines += group_section(name, benches)
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path, help="a file written by --benchmark-json")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder (default: results/)")
    parser.add_argument("--print", action="store_true", help="print the pages, write nothing")
    args = parser.parse_args(argv)
    run = json.loads(args.json.read_text())
    families = {}
    for bench in run["benchmarks"]:
        group = bench["group"] or bench["name"]
        families.setdefault(group.split(":")[0], {}).setdefault(group, []).append(bench)
    if not args.print:
        args.out.mkdir(parents=True, exist_ok=True)
    for family, groups in families.items():
        text = page(family, groups, run)
        if args.print:
            print(text, end="")
        else:
            path = args.out / f"{family}.md"
            path.write_text(text)
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
