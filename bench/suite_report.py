"""The suite's summary: the machine, medians, peak RSS and ratios, as JSON, a console table and
the generated section of docs/performance.md (between its markers, so the doc is never edited
by hand there and other sections of the doc merge beside it)."""
import os
import platform
import statistics
import subprocess

from suite_runners import ROOT

BEGIN = "<!-- bench:suite:begin (written by `npm run bench`, bench/suite.py; do not edit by hand) -->"
END = "<!-- bench:suite:end -->"
OURS = "ours"
OTHERS = ("fnapi", "prism")


def _first_line(command):
    try:
        return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=30).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def describe_machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
    mem_kb = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    import apache_beam
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "cpu_model": cpu,
        "kernel": platform.release(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "versions": {
            "node": _first_line(["node", "--version"]),
            "python": platform.python_version(),
            "apache_beam": apache_beam.__version__,
            "prism": "v2.77.0 (built from the Go module proxy by scripts/setup-prism.sh)",
            "beam_lambda_commit": _first_line(["git", "rev-parse", "--short", "HEAD"]),
        },
    }


def summarize(runs):
    """Per runner: the medians of its successful runs, or the errors of its failed ones."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"errors": [r["error"] for r in runs]}
    return {
        "runs": len(ok),
        "median_s": round(statistics.median(r["pipeline_s"] for r in ok), 3),
        "median_process_s": round(statistics.median(r["process_s"] for r in ok), 3),
        "median_peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in ok), 1),
        **({"errors": [r["error"] for r in runs if "error" in r]} if len(ok) < len(runs) else {}),
    }


def ratios(summary, outputs_agree):
    """Ours ÷ each other runner and ÷ the best other, on median times; none unless outputs agree."""
    if not outputs_agree or "median_s" not in summary.get(OURS, {}):
        return {}
    others = {k: summary[k]["median_s"] for k in OTHERS if "median_s" in summary.get(k, {})}
    out = {f"ours/{k}": round(summary[OURS]["median_s"] / v, 2) for k, v in others.items()}
    if others:
        out["ours/best_other"] = round(summary[OURS]["median_s"] / min(others.values()), 2)
    return out


def _cell(summary, key, field, fmt):
    value = summary.get(key, {}).get(field)
    return "failed" if value is None else fmt.format(value)


def table_rows(results):
    header = ["pipeline", "ours s", "FnApiRunner s", "Prism s", "ours ÷ FnApiRunner", "ours ÷ Prism",
              "ours ÷ best other", "ours client process s", "peak RSS ours / FnApiRunner / Prism MB"]
    rows = []
    for name, p in results["pipelines"].items():
        s, r = p["summary"], p["ratios"]
        rss = " / ".join(_cell(s, k, "median_peak_rss_mb", "{:,.0f}") for k in (OURS, *OTHERS))
        rows.append([
            name, *(_cell(s, k, "median_s", "{:.2f}") for k in (OURS, *OTHERS)),
            *(f"{r[k]:.2f}" if k in r else "—" for k in ("ours/fnapi", "ours/prism", "ours/best_other")),
            _cell(s, OURS, "median_process_s", "{:.2f}"), rss,
        ])
    return header, rows


def print_table(results):
    header, rows = table_rows(results)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    for name, p in results["pipelines"].items():
        if not p["outputs_agree"]:
            print(f"{name}: the runners' outputs differ or a run failed, so no ratio is given")


def load_range(results):
    loads = [r["load_before"] for p in results["pipelines"].values() for rs in p["runs"].values() for r in rs]
    return f"{min(loads):.2f} to {max(loads):.2f} (median {statistics.median(loads):.2f})" if loads else "not recorded"


def markdown(results):
    m, header_rows = results["machine"], table_rows(results)
    header, rows = header_rows
    lines = [
        BEGIN,
        f"### Beam runner suite, {results['date']}",
        "",
        f"Machine: {m['cores']} cores ({m['cpu_model']}), {m['memory_gib']} GiB, Linux {m['kernel']}; "
        f"Node {m['versions']['node']}, Python {m['versions']['python']}, apache-beam {m['versions']['apache_beam']}, "
        f"Prism {m['versions']['prism']}, beam-lambda {m['versions']['beam_lambda_commit']}.",
        f"Load average before the suite: {' / '.join(str(x) for x in m['load_average_before'])} (1 / 5 / 15 min)"
        + (f"; {results['note']}" if results.get("note") else "") + ".",
        f"1-minute load average before each run: {load_range(results)}; after the suite: "
        f"{' / '.join(str(x) for x in results.get('load_average_after', [])) or 'not recorded'}.",
        f"{results['repetitions']} runs of each pipeline on each runner, the runners' order rotated every repetition; "
        f"scale {results['scale']}; suite wall time {results['suite_minutes']:.1f} min.",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
        *("| " + " | ".join(str(c) for c in row) + " |" for row in rows),
        "",
        "Times are medians of the seconds from `run()` to the job's end, as the client sees them; "
        "\"client process\" is the whole `python` process of a run on ours (start-up, imports, "
        "submission, run). Peak RSS is the median over runs of the peak of the summed RSS of the "
        "runner's process tree, sampled every 100 ms: the job server and its descendants plus the "
        "client process (for FnApiRunner the client process and its descendants). Pages shared "
        "between processes count in each of them, as in `ps`. A ratio is only given when all runs of "
        "all three runners wrote the same lines.",
        "",
        "| pipeline | what it does |",
        "| --- | --- |",
        *(f"| {name} | {p['description']} |" for name, p in results["pipelines"].items()),
        END,
    ]
    return "\n".join(lines) + "\n"


PREAMBLE = """# Performance

Measured by the benchmarks in [bench/](../bench/README.md), never by `npm test`.
"""
HEADING = "## Against Beam's runners: `npm run bench`"


def write_doc(path, section):
    """Replaces the generated section of `path` (creating the doc or appending the section if absent)."""
    text = open(path).read() if os.path.exists(path) else PREAMBLE
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1].lstrip("\n")
        text = before + section + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + HEADING + "\n\n" + section
    with open(path, "w") as f:
        f.write(text)
