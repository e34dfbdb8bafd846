"""Benchmark outputs: a Markdown table, a JSON file with every number, a PNG of accuracy against speed."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Callable

from .harness import BenchReport


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if value < 0.1 else f"{value:.2f}"


def _mb(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _sources(result: dict[str, Any]) -> str:
    shares = result.get("word_sources")
    return "" if not shares else " (words: " + ", ".join(f"{k} {100 * v:.0f} %" for k, v in shares.items()) + ")"


def markdown(report: BenchReport) -> str:
    """The results as Markdown: a table for page sets, one for crop sets, then the conditions."""
    pages = [r for r in report.results if r["kind"] == "pages"]
    crops = [r for r in report.results if r["kind"] == "crops"]
    parts = []
    if pages:
        rows = ["| set | engine | pages | BoW-ci F1 | CER | WER | det P / R / H | e2e F1 | s/page | CPU s/page | peak RSS MB |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in pages:
            det = "–"
            if "det_hmean" in r:
                scope = r["det_level"] + (f", {r['det_pages']} pages" if r["det_pages"] < r["images"] else "")
                det = f"{_pct(r['det_precision'])} / {_pct(r['det_recall'])} / {_pct(r['det_hmean'])} ({scope})"
            rows.append(f"| {r['set']} | {r['engine']}{_sources(r)} | {r['images']} | {_pct(r['bow_f1'])} | "
                        f"{_pct(r['cer'])} | {_pct(r['wer'])} | {det} | {_pct(r.get('e2e_f1'))} | "
                        f"{_seconds(r['median_s_per_image'])} | {_seconds(r['median_cpu_s_per_image'])} | "
                        f"{_mb(r['peak_rss_mb'])} |")
        parts.append("\n".join(rows))
    if crops:
        rows = ["| set | engine | crops | accuracy (alnum, any case) | accuracy (exact case) | CER | s/crop | CPU s/crop | peak RSS MB |",
                "|---|---|---|---|---|---|---|---|---|"]
        for r in crops:
            rows.append(f"| {r['set']} | {r['engine']}{_sources(r)} | {r['images']} | {_pct(r['acc_alnum'])} | "
                        f"{_pct(r['acc'])} | {_pct(r['cer'])} | {_seconds(r['median_s_per_image'])} | "
                        f"{_seconds(r['median_cpu_s_per_image'])} | {_mb(r['peak_rss_mb'])} |")
        parts.append("\n".join(rows))
    settings, host = report.settings, report.machine
    images = settings["images"]
    cut = [f"{name} its first {read} of {total}" for name, (read, total) in images.items() if read < total]
    limit = "whole sets" if not cut else "images read: " + ", ".join(cut) + (
        "; the other sets whole" if len(cut) < len(images) else "")
    notes = [f"{settings['date']}, {host['cpu']} ({host['cores']} cores), {host['os']}, Python {host['python']}; "
             f"{settings['threads']} thread(s) per engine, each engine in its own process, "
             f"{settings.get('jobs', 1)} at a time; {limit}."]
    versions: dict[str, dict[str, str]] = {}
    for r in report.results:
        versions.setdefault(r["engine"], {}).update(r["versions"])
    for engine, found in versions.items():
        notes.append(f"{engine}: " + ", ".join(f"{k} {v}" for k, v in sorted(found.items())))
    for engine, reason in report.skipped.items():
        notes.append(f"{engine} skipped: {reason}")
    for failure in report.failures:
        notes.append(f"{failure['engine']} on {failure['set']} failed: {failure['error']}")
    failed = [r for r in report.results if r["failed_images"]]
    for r in failed:
        notes.append(f"{r['engine']} failed on {r['failed_images']} image(s) of {r['set']} (scored as empty)")
    parts.append("\n".join(f"- {note}" for note in notes))
    return "\n\n".join(parts) + "\n"


def summary(report: BenchReport) -> str:
    """One line per set: engines from most to least accurate, then from fastest to slowest (CPU seconds)."""
    lines = []
    for name in dict.fromkeys(r["set"] for r in report.results):
        results = [r for r in report.results if r["set"] == name]
        unit = "page" if results[0]["kind"] == "pages" else "crop"
        by_accuracy = sorted(results, key=accuracy, reverse=True)
        timed = sorted((r for r in results if r["median_cpu_s_per_image"]), key=lambda r: r["median_cpu_s_per_image"])
        lines.append(f"- **{name}**: most accurate " + ", ".join(f"{r['engine']} {_pct(accuracy(r))}" for r in by_accuracy)
                     + "; fastest " + ", ".join(f"{r['engine']} {_seconds(r['median_cpu_s_per_image'])}" for r in timed)
                     + f" CPU s/{unit}.")
    return "\n".join(lines)


README_BEGIN = "<!-- ocr bench: begin -->"
README_END = "<!-- ocr bench: end -->"
_README_BLOCK = re.compile(re.escape(README_BEGIN) + ".*?" + re.escape(README_END), re.DOTALL)


def has_readme_block(readme: Path) -> bool:
    """Whether ``readme`` has a :data:`README_BEGIN` ... :data:`README_END` block for :func:`update_readme`."""
    return bool(_README_BLOCK.search(readme.read_text(encoding="utf-8", errors="replace")))


def update_readme(readme: Path, report: BenchReport, table: str, out: Path, command: str) -> None:
    """Replace the text between :data:`README_BEGIN` and :data:`README_END` in ``readme`` with the run's
    command, table, plot and :func:`summary`; raise :class:`ValueError` when the markers are missing."""
    text = readme.read_text(encoding="utf-8")
    if not _README_BLOCK.search(text):
        raise ValueError(f"{readme}: no {README_BEGIN} ... {README_END} block to replace")
    plot_link = Path(os.path.relpath(out / "accuracy_vs_speed.png", readme.parent)).as_posix()
    results_link = Path(os.path.relpath(out / "results.json", readme.parent)).as_posix()
    block = "\n\n".join([
        README_BEGIN,
        f"Written by `{command}` (every number in [{results_link}]({results_link})):",
        table.rstrip("\n"),
        f"![Accuracy against CPU seconds per image]({plot_link})",
        "By set (bag-of-words F1 on pages, letters-and-digits accuracy on crops):\n\n" + summary(report),
        README_END,
    ])
    readme.write_text(_README_BLOCK.sub(lambda _: block, text, count=1), encoding="utf-8")


def accuracy(result: dict[str, Any]) -> float:
    """The headline accuracy of a result: bag-of-words F1 on pages, alphanumeric word accuracy on crops."""
    return result["bow_f1"] if result["kind"] == "pages" else result["acc_alnum"]


def plot(report: BenchReport, path: Path) -> None:
    """One panel per set: headline accuracy against median CPU seconds per image (log scale), a point per engine."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    sets = list(dict.fromkeys(r["set"] for r in report.results))
    columns = min(3, max(1, len(sets)))
    rows = (len(sets) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(4.5 * columns, 3.6 * rows), squeeze=False)
    for ax, name in zip(axes.flat, sets):
        for r in (r for r in report.results if r["set"] == name and r["median_cpu_s_per_image"]):
            ax.scatter(r["median_cpu_s_per_image"], 100 * accuracy(r))
            ax.annotate(r["engine"], (r["median_cpu_s_per_image"], 100 * accuracy(r)), textcoords="offset points",
                        xytext=(4, 4), fontsize=8)
        kind = next(r["kind"] for r in report.results if r["set"] == name)
        ax.set_title(name, fontsize=10)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels overlap on narrow ranges
        ax.set_xlabel("median CPU s per " + ("page" if kind == "pages" else "crop"))
        ax.set_ylabel("BoW-ci F1 %" if kind == "pages" else "word accuracy % (alnum)")
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(sets):]:
        ax.set_visible(False)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write(report: BenchReport, out: Path, notify: Callable[[str], None]) -> str:
    """Write ``results.json``, ``results.md`` and ``accuracy_vs_speed.png`` into ``out``; returns the Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
    table = markdown(report)
    (out / "results.md").write_text(table, encoding="utf-8")
    if report.results:
        try:
            plot(report, out / "accuracy_vs_speed.png")
        except ImportError:
            notify("bench: no plot: matplotlib is not installed (pip install .[bench])")
    return table
