"""A check of bench/chart.py on a fixture: `python3 bench/test_chart.py` (plain asserts)."""

import xml.etree.ElementTree as ET

import chart

SVG = "{http://www.w3.org/2000/svg}"


def run(worker_cpu, rss, **extra):
    return [dict({"ok": True, "worker_cpu_ms_per_activity": worker_cpu, "peak_rss_mib": rss},
                 **extra)]


FIXTURE = {
    "date": "2026-12-06T12:00:00+00:00", "commit": "abc1234", "repeat": 1,
    "loadavg_before": ["0.10", "0.20", "0.30"], "loadavg_after": ["0.40", "0.50", "0.60"],
    "parameters": {"noop": 2000, "parked": 10000},
    "workers": ["legwork", "legwork@35b971c", "floor", "python"],
    "labels": {"legwork": "legwork", "legwork@35b971c": "legwork 35b971c",
               "floor": "floor (raw gRPC)", "python": "Python SDK 1.35.0"},
    "results": {
        "noop_async": {"legwork": run(0.331, 6.5), "legwork@35b971c": run(0.402, 6.9),
                       "floor": run(0.253, 4.2), "python": run(1.398, 65.3)},
        # The Python run failed: no figure, no bar.
        "noop_sync": {"legwork": run(0.285, 6.4), "floor": run(0.263, 4.3),
                      "python": [{"ok": False, "error": "timeout"}]},
        "concurrency": {"legwork": [{"ok": True, "async": {"cpu_s_per_s": 0.0029}}]},
    },
    "binary_mib": {"legwork": 4.9, "legwork@35b971c": 4.6, "floor": 2.6},
}


def main():
    text = chart.svg(FIXTURE)
    root = ET.fromstring(text)  # well-formed XML
    assert root.tag == f"{SVG}svg" and root.get("font-family") == "sans-serif"
    assert "<script" not in text and "href" not in text, "no scripts, no external resources"
    background = root.find(f"{SVG}rect")
    assert background.get("fill") == "#ffffff" and background.get("width") == str(chart.WIDTH)
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]
    # noop_async 4, noop_sync 2 (Python's failed), RSS 4 (Python's from noop_async),
    # parked CPU 1 (legwork only), binary 3 (Python has none)
    assert len(bars) == 14, len(bars)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    for expected in ("legwork 35b971c", "floor (raw gRPC)", "0.331", "0.402", "1.398", "0.263",
                     "6.9", "2.90", "4.9", "4.6"):
        assert expected in texts, expected
    titles = [t for t in texts if t and "(" in t and t.endswith(")")]
    assert any(t.startswith("noop_async") for t in titles)
    assert any(t.startswith("idle CPU with 10000") for t in titles)
    assert any("abc1234" in t for t in texts) and any("0.10 0.20 0.30" in t for t in texts)
    # legwork in colour and bold, its older build lighter, the peers grey
    fills = {r.find(f"{SVG}title").text.split(":")[0]: r.get("fill") for r in bars}
    assert fills["legwork"] == chart.LEGWORK and fills["legwork 35b971c"] == chart.BASELINE
    assert fills["floor (raw gRPC)"] == chart.OTHER
    # the longest bar of a group is BAR_MAX wide
    assert max(float(r.get("width")) for r in bars) == chart.BAR_MAX
    # no figure at all: still a valid chart that says so
    empty = ET.fromstring(chart.svg(dict(FIXTURE, results={}, binary_mib={})))
    assert any("No headline figure" in (t.text or "") for t in empty.iter(f"{SVG}text"))
    print("chart ok: 14 bars, labels, values and caption")


if __name__ == "__main__":
    main()
