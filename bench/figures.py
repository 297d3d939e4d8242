"""The figures of a run: medians over repetitions, paired ratios, and how they are printed.
Shared by the report (report.py) and the targets (targets.py)."""

import statistics


def median_of(results, *path):
    values = []
    for r in results:
        v = r
        for key in path:
            v = v.get(key) if isinstance(v, dict) else None
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            values.append(v)
    return statistics.median(values) if values else None


def fmt(v, digits=2):
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return f"{v:.{digits}f}"


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def paired_ratios(runs_a, runs_b, *path):
    """Median over repetitions of a run's figure / the other's in the same repetition (runs
    of one repetition are minutes apart, repetitions drift), and the ratio of each."""
    ratios = [ratio(median_of([x], *path), median_of([y], *path))
              for x, y in zip(runs_a, runs_b)]
    ratios = [r for r in ratios if r is not None]
    return (statistics.median(ratios), ratios) if ratios else (None, [])
