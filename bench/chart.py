"""An SVG chart of a bench/run's headline figures (Python stdlib only).

Grouped horizontal bars: one group per figure (worker CPU per activity in noop_async and
noop_sync, peak RSS draining no-ops, idle CPU with 10,000 async activities parked when the
concurrency scenario ran, release binary size), one bar per worker with its value printed,
legwork's in colour (an older legwork build, `--baseline`, in a lighter shade). A figure a
worker lacks is left out. White background, sans-serif, no external resources and no
script, so that GitHub shows it as it is.

`harness.py` writes OUT.svg beside OUT.md after each run (and with `--report`). By hand:

    python3 bench/chart.py bench/results/latest.json [more.json ...] -o chart.svg

merges the figures of several runs (the first run's for a worker and figure wins).
"""

import argparse
import json
import statistics
import sys
from pathlib import Path
from xml.sax.saxutils import escape

WIDTH = 760
LEFT = 190          # room for the workers' names
BAR_MAX = 440       # the longest bar of a group
BAR_H = 18
GAP = 5
LEGWORK, BASELINE, OTHER = "#d9480f", "#f4a261", "#8d99a6"


def median_of(runs, *path):
    values = []
    for r in runs or []:
        for key in path:
            r = r.get(key) if isinstance(r, dict) else None
        if isinstance(r, (int, float)) and not isinstance(r, bool):
            values.append(r)
    return statistics.median(values) if values else None


def noop_rss(res, w):
    values = [median_of(res.get(s, {}).get(w), "peak_rss_mib") for s in ("noop_async", "noop_sync")]
    values = [v for v in values if v is not None]
    return max(values) if values else None


def parked_cpu(res, w):
    v = median_of(res.get("concurrency", {}).get(w), "async", "cpu_s_per_s")
    return None if v is None else 1000 * v


def figures(data):
    """[(title, unit, digits, {worker: value})] of the figures with at least one value."""
    res, p = data.get("results", {}), data.get("parameters", {})
    n, parked = p.get("noop", "the"), p.get("parked", "the")

    def cpu(s):
        return lambda w: median_of(res.get(s, {}).get(w), "worker_cpu_ms_per_activity")

    specs = [
        (f"noop_async: worker CPU per activity ({n} no-ops)", "ms", 3, cpu("noop_async")),
        (f"noop_sync: worker CPU per activity ({n} no-ops)", "ms", 3, cpu("noop_sync")),
        ("peak RSS draining no-ops (the larger of noop_async, noop_sync)", "MiB", 1,
         lambda w: noop_rss(res, w)),
        (f"idle CPU with {parked} async activities parked (concurrency)", "ms per s", 2,
         lambda w: parked_cpu(res, w)),
        ("release binary", "MiB", 1, lambda w: (data.get("binary_mib") or {}).get(w)),
    ]
    out = []
    for title, unit, digits, get in specs:
        values = {w: get(w) for w in data.get("workers", [])}
        values = {w: v for w, v in values.items() if v is not None}
        if values:
            out.append((title, unit, digits, values))
    return out


def colour(worker):
    if worker == "legwork":
        return LEGWORK
    return BASELINE if worker.startswith("legwork@") else OTHER


def caption(data):
    """Two lines: the run (date, commit, repetitions), then the machine's load."""
    load = " ".join(data.get("loadavg_before") or ["?"])
    after = " ".join(data.get("loadavg_after") or ["?"])
    first = (f"bench/run of {data.get('date', '?')}, commit {data.get('commit', '?')}, "
             f"{data.get('repeat', 1)} repetition(s), median" + (", --quick" if data.get("quick") else ""))
    if data.get("merged"):
        first += f"; with figures from {data['merged']} other run(s)"
    return [first, f"load average {load} before, {after} after. Lower is better."]


def group_svg(y, title, unit, digits, values, label):
    """The SVG elements of one group from height `y`; returns (elements, new y)."""
    out = [f'<text x="16" y="{y + 14}" font-size="14" font-weight="bold" fill="#212529">'
           f'{escape(title)} ({escape(unit)})</text>']
    y += 24
    top = max(values.values()) or 1
    for w, v in values.items():
        width = max(1.0, BAR_MAX * v / top)
        bold = ' font-weight="bold"' if w == "legwork" else ""
        out.append(f'<text x="{LEFT - 8}" y="{y + 13}" font-size="12" text-anchor="end" '
                   f'fill="#212529"{bold}>{escape(label(w))}</text>')
        out.append(f'<rect class="bar" x="{LEFT}" y="{y}" width="{width:.1f}" height="{BAR_H}" '
                   f'fill="{colour(w)}"><title>{escape(label(w))}: {v:.{digits}f} '
                   f'{escape(unit)}</title></rect>')
        out.append(f'<text x="{LEFT + width + 6:.1f}" y="{y + 13}" font-size="12" '
                   f'fill="#212529"{bold}>{v:.{digits}f}</text>')
        y += BAR_H + GAP
    return out, y + 12


def svg(data, label=None):
    """The chart as SVG text."""
    labels = data.get("labels") or {}
    label = label or (lambda w: labels.get(w, w))
    body, y = [], 56
    for title, unit, digits, values in figures(data):
        elements, y = group_svg(y, title, unit, digits, values, label)
        body += elements
    if not body:
        body.append(f'<text x="16" y="{y + 14}" font-size="13" fill="#212529">'
                    f'No headline figure in this run.</text>')
        y += 30
    height = y + 40
    head = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">',
            f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
            '<text x="16" y="28" font-size="17" font-weight="bold" fill="#212529">'
            'legwork and its peers: headline figures</text>']
    first, second = caption(data)
    foot = [f'<text x="16" y="{height - 26}" font-size="11" fill="#495057">{escape(first)}</text>',
            f'<text x="16" y="{height - 11}" font-size="11" fill="#495057">{escape(second)}</text>',
            '</svg>']
    return "\n".join(head + body + foot) + "\n"


def write(data, path, label=None):
    Path(path).write_text(svg(data, label))


def merge(records):
    """One record of several runs' results: the first's metadata, every run's figures."""
    out = dict(records[0], results={}, workers=[], binary_mib={}, labels={},
               merged=len(records) - 1)
    for r in records:
        for s, by in r.get("results", {}).items():
            for w, runs in by.items():
                out["results"].setdefault(s, {}).setdefault(w, runs)
        out["workers"] += [w for w in r.get("workers", []) if w not in out["workers"]]
        for w, v in (r.get("binary_mib") or {}).items():
            out["binary_mib"].setdefault(w, v)
        for w, v in (r.get("labels") or {}).items():
            out["labels"].setdefault(w, v)
        if r is not records[0]:
            out["parameters"] = dict(r.get("parameters", {}), **out.get("parameters", {}))
    return out


def main():
    parser = argparse.ArgumentParser(description="An SVG chart of bench/run results")
    parser.add_argument("json", nargs="+", help="results JSON (bench/results/*.json)")
    parser.add_argument("-o", "--out", required=True, help="the SVG to write")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import harness  # the workers' labels, for results written before they were recorded

    data = merge([json.loads(Path(p).read_text()) for p in args.json])
    write(data, args.out, lambda w: data["labels"].get(w) or harness.label(w))


if __name__ == "__main__":
    main()
