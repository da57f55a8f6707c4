"""Markdown tables from a ``--benchmark-json`` file: ``results/<family>.md``.

    python benchmarks/report.py run.json [--print] [--out DIR]

A group ``<family>: <what>`` becomes a table of page ``<family>.md``. A row is one record:
library and threads (or the case), median and fastest time and rounds (or the one time),
the ratios vs ours at the same thread count, then its ``extra_info``; what every row of a
group shares (the work, the data sizes) is written once above the table.
"""

import argparse
import ast
import json
from pathlib import Path

from harness import LABELS, REPLAY, paired

RESULTS = Path(__file__).resolve().parent / "results"
RATIO = ("The contestants of a group ran in interleaved rounds in one process: round i of "
         "each saw the same load. `ratio vs ours` is their median time / our median time at "
         "the same thread count (above 1: ours is faster); `per-round ratio` is the median "
         "over rounds of their time / our time in the same round. When the two disagree, the "
         "load changed during the run.")


def seconds(s):
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if s >= scale or unit == "µs":
            return f"{s / scale:.3g} {unit}"


def header(key):
    return key.removesuffix("_mib").removesuffix("_seconds").replace("_", " ")


def value(key, v):
    if key.endswith("_seconds"):
        return seconds(v)
    if ("accuracy" in key or "recall" in key) and isinstance(v, float):
        return f"{100 * v:.2f}%"
    if key.endswith("_mib"):
        return f"{v:.0f} MiB"
    return f"`{v}`" if key == "config" else f"{v:.4g}" if isinstance(v, float) else str(v)


def table(headers, rows):
    right = [i and str(v)[:1].isdigit() for i, v in enumerate(rows[0])]  # numbers right-aligned
    lines = ["| " + " | ".join(headers) + " |", "|" + "".join(" ---: |" if r else " :--- |"
                                                              for r in right)]
    return "\n".join(lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows])


def group_section(name, benches):
    infos = [b["extra_info"] for b in benches]
    keys = list(dict.fromkeys(k for i in infos for k in i if k not in ("library", "threads")))
    shared = [k for k in keys if len(infos) > 1 and not k.startswith("target")
              and all(i.get(k) == infos[0].get(k) for i in infos)]
    columns = [k for k in keys if k not in shared]
    once = all(b["stats"]["rounds"] == 1 for b in benches)
    ours = {} if once else {i["threads"]: b["stats"] for b, i in zip(benches, infos)
                            if i.get("library") == "ours"}
    threads = any("threads" in i for i in infos)
    headers = (["library" if any("library" in i for i in infos) else "case"]
               + ["threads"] * threads + (["time"] if once else ["median", "min", "rounds"])
               + ["ratio vs ours", "per-round ratio"] * bool(ours) + [header(k) for k in columns])
    rows = []
    for bench, info in zip(benches, infos):
        stats, mine = bench["stats"], ours.get(info.get("threads"))
        lib = info.get("library") or bench["param"] or bench["name"]
        row = [LABELS.get(lib) or (LABELS["ours"] + lib[4:] if lib.startswith("ours") else lib)]
        row += [info.get("threads", "")] * threads
        row += [seconds(stats["median"])] if once else [
            seconds(stats["median"]), seconds(stats["min"]), stats["rounds"]]
        if ours:
            row += ["", ""] if mine is None else [f"{stats['median'] / mine['median']:.2f}x",
                                                  f"{paired(stats['data'], mine['data']):.2f}x"]
        rows.append(row + [value(k, info[k]) if k in info else "" for k in columns])
    lines = [f"## {name}", ""] + [f"- {header(k)}: {value(k, infos[0][k])}" for k in shared]
    return lines + [""] * bool(shared) + [table(headers, rows), ""]


def page(family, groups, run):
    """One family's page, titled by the first line of its test module's docstring."""
    module = next(iter(groups.values()))[0]["fullname"].split("::")[0]
    title = ast.get_docstring(ast.parse((Path(__file__).parent / Path(module).name).read_text()))
    title = title.splitlines()[0].split(" (group")[0].rstrip(".")
    m, c = run["machine_info"], run["commit_info"]
    lines = [
        f"# {title}" + f" ({family})" * ("-" in family), "",
        f"- Date: {run['datetime'][:16].replace('T', ' ')} UTC; git {str(c.get('id'))[:10]}"
        + (" with uncommitted changes" if c.get("dirty") else "") + f" (branch {c.get('branch')})",
        f"- Machine: {m['cpu'].get('brand_raw')}, {m.get('cpu_count')} CPUs; threading "
        f"variables: {m.get('thread_env') or 'none set'}; load average (1, 5, 15 min) at the "
        f"end: {m.get('load_average')}",
        f"- Versions: Python {m['python_version']}, "
        + ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items()),
        f"- Command: `{m.get('command')}`, then `python benchmarks/report.py` on its JSON", ""]
    if any(b["stats"]["rounds"] > 1 for benches in groups.values() for b in benches):
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
        assert bench["options"]["timer"] == str(REPLAY), "a record not made by harness.report"
        group = bench["group"] or bench["name"]
        families.setdefault(group.split(":")[0], {}).setdefault(group, []).append(bench)
    for family, groups in families.items():
        text = page(family, groups, run)
        if args.print:
            print(text, end="")
        else:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"{family}.md").write_text(text)
            print(f"wrote {args.out / f'{family}.md'}")


if __name__ == "__main__":
    main()
