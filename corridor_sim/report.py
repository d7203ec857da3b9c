"""A results folder as one self-contained HTML page (`corridor-sim report RESULTS_DIR`).

The page embeds every figure that applies as a base64 PNG, the result tables and the merged
scenario YAML, with inline CSS and no script or external link, so it opens from disk in any browser
and can be mailed as one file. Every piece of text from the scenario or the results is escaped with
`html.escape`.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from corridor_sim.plotting import experiment_kind, folder_figures
from corridor_sim.results_dir import load_results_dir

__all__ = ["build_report", "write_report"]

FIGURE_CAPTIONS = {
    "network_map": "The corridor: segments coloured by mode with width by TEU carried per day; facilities "
                   "coloured by utilisation.",
    "transit_distributions": "Transit time per flow: histogram and empirical CDF of delivered shipments.",
    "time_distance": "Time-distance: the median journey along each flow's main route; vertical steps are time "
                     "spent at a place (handling, border, queueing, waiting); the band spans the 10th to 90th "
                     "percentile of shipments.",
    "cost_distance": "Cost-distance per TEU: segment charges by distance and node charges where handled.",
    "time_breakdown": "Where the time goes: mean days per shipment by activity.",
    "utilisation": "Utilisation of facilities, services and segment paths.",
    "queues": "Queue length over simulated time at the busiest facilities.",
    "throughput": "Delivered TEU per week by flow against demand.",
    "comparison": "Variant minus base per flow, with paired 95% confidence intervals.",
    "sweep": "KPIs against the swept parameter, with 95% confidence bands.",
    "capacity": "Throughput and transit time against demand; the capacity is the largest feasible level.",
}

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1200px;
       color: #222; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
p.meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.6em 0 1.2em; }
th, td { border: 1px solid #d0d0d0; padding: 0.25em 0.55em; }
th { background: #f0f3f7; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1.2em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #e3e3e3; }
figcaption { color: #444; font-size: 0.9em; margin-top: 0.3em; }
pre { background: #f6f8fa; border: 1px solid #e1e4e8; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
.note { color: #555; font-size: 0.9em; }
.warning { color: #a00; border-left: 4px solid #a00; padding-left: 0.5em; }
nav a { margin-right: 1em; }
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return f"{value:,d}"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return "–"
    if x == int(x) and abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def _ci(low, high, digits: int = 2) -> str:
    if low is None or high is None or (isinstance(low, float) and math.isnan(low)):
        return "–"
    return f"[{_fmt(low, digits)}, {_fmt(high, digits)}]"


def _table(df: pd.DataFrame, columns: Sequence[tuple[str, str | Callable]], caption: str = "") -> str:
    """An HTML table: columns are (heading, column name or function of the row)."""
    if df is None or len(df) == 0:
        return "<p class='note'>(none)</p>"
    head = "".join(f"<th>{_e(h)}</th>" for h, _ in columns)
    rows = []
    for _, r in df.iterrows():
        cells = []
        for _, col in columns:
            value = col(r) if callable(col) else r.get(col)
            numeric = not isinstance(value, str) and value is not None
            text = _fmt(value) if numeric else ("–" if value is None else str(value))
            cells.append(f"<td class='num'>{_e(text)}</td>" if numeric else f"<td>{_e(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{_e(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _figure_html(stem: str, fig, dpi: int) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    caption = FIGURE_CAPTIONS.get(stem, stem.replace("_", " "))
    return (f"<figure id='fig-{_e(stem)}'><img src='data:image/png;base64,{data}' alt='{_e(caption)}'>"
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _settles(row) -> str:
    """'yes', or 'NO' for an element whose backlog grows over the measured window."""
    value = row.get("stable")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return "yes" if str(value).strip().lower() not in ("false", "0") else "NO"


def _run_sections(folder: Path) -> tuple[str, str, list[tuple[str, str]]]:
    res = load_results_dir(folder)
    summary = res.summary_doc
    sc = res.scenario
    title = sc.name if sc is not None else str(summary.get("scenario", folder.name))
    busiest = summary.get("busiest") or {}
    meta = [f"{res.replications} replications, seed {res.seed}",
            f"{_fmt(res.horizon_days, 0)} simulated days ({_fmt(res.warmup_days, 0)} warm-up, "
            f"{_fmt(res.measured_days, 0)} measured)"]
    if busiest.get("name"):
        meta.append(f"busiest: {busiest['name']} (utilisation {_fmt(busiest.get('utilization'))})")
    intro = f"<p class='meta'>{_e('; '.join(meta))}</p>"
    unstable = summary.get("unstable") or []
    if unstable:
        intro += ("<p class='warning'><strong>Does not settle</strong> (its backlog grows over the measured "
                  "window; its figures describe that window, not a steady state): "
                  f"{_e(', '.join(unstable))}</p>")
    if sc is not None and sc.description:
        intro += f"<p>{_e(sc.description)}</p>"
    if res.run_info.get("command"):
        intro += (f"<p class='note'>Command: <code>{_e(res.run_info['command'])}</code>; corridor-sim "
                  f"{_e(res.run_info.get('version', ''))}</p>")
    sections = []
    flows = res.flows
    sections.append(("Flows", "<p class='note'>Transit days of the shipments created in the measured window, "
                     "followed to delivery: mean with its 95% confidence interval over replications, and "
                     "percentiles pooled over shipments; Kaplan-Meier (KM) where some were still under way at the "
                     "end of the drain (censored). Throughput: TEU delivered per day of the measured window.</p>"
                     + _table(flows, [
                         ("flow", "flow"), ("origin", "origin"), ("destination", "destination"),
                         ("demand TEU/day", "demand_teu_per_day"), ("shipments", "created"),
                         ("censored", lambda r: r.get("censored", r.get("in_transit"))),
                         ("estimator", lambda r: "KM" if r.get("transit_estimator") == "kaplan-meier" else ""),
                         ("settles", _settles),
                         ("throughput TEU/day", "throughput_teu_per_day"),
                         ("95% CI", lambda r: _ci(r.get("throughput_ci95_low"), r.get("throughput_ci95_high"))),
                         ("transit mean (days)", "transit_days_mean"),
                         ("95% CI", lambda r: _ci(r.get("transit_days_ci95_low"), r.get("transit_days_ci95_high"))),
                         ("p50", "transit_days_p50"), ("p95", "transit_days_p95"),
                         ("USD/TEU", "cost_usd_per_teu"), ("kg CO2/TEU", "co2_kg_per_teu")])))
    if "empty_cost_usd_per_teu" in flows.columns and (flows["empty_co2_kg_per_teu"].fillna(0) > 0).any() | (
            flows["empty_cost_usd_per_teu"].fillna(0) > 0).any():
        sections.append(("Empty boxes going back", "<p class='note'>Cost and CO2 per loaded TEU of the empty "
                         "boxes a flow sends back (empty_return_share), included in the flow's USD/TEU and "
                         "kg CO2/TEU above.</p>" + _table(flows, [
                             ("flow", "flow"), ("USD/TEU (all)", "cost_usd_per_teu"),
                             ("of which empty", "empty_cost_usd_per_teu"), ("kg CO2/TEU (all)", "co2_kg_per_teu"),
                             ("of which empty", "empty_co2_kg_per_teu")])))
    sections.append(("Where the time goes", "<p class='note'>Mean days per delivered shipment.</p>" + _table(flows, [
        ("flow", "flow"), ("travel", "travel_days"), ("waiting", "wait_days"), ("handling", "handling_days"),
        ("border", "border_days"), ("queueing", "queue_days"), ("total (mean transit)", "transit_days_mean")])))
    sections.append(("Facilities", _table(res.nodes, [
        ("node", "node"), ("name", "name"), ("kind", "kind"), ("servers", "servers"), ("applies", "applies"),
        ("utilisation", "utilization"),
        ("95% CI", lambda r: _ci(r.get("utilization_ci95_low"), r.get("utilization_ci95_high"))),
        ("utilisation of nominal", "utilization_nominal"),
        ("mean queue", "mean_queue"), ("mean wait (h)", "mean_wait_h"), ("arrivals/day", "arrivals_per_day"),
        ("settles", _settles)])))
    sections.append(("Services", _table(res.services, [
        ("service", "service"), ("mode", "mode"), ("capacity TEU", "capacity_teu"), ("departures", "departures"),
        ("mean load factor (of TEU offered)", "mean_load_factor"),
        ("load factor (of nominal)", "mean_load_factor_nominal"), ("TEU carried/day", "teu_carried_per_day"),
        ("TEU-km/day", "teu_km_per_day"), ("waiting at end (TEU)", "waiting_at_end"), ("settles", _settles), ("empty boxes TEU/day", "empty_teu_per_day")])))
    fleets = _fleets_section(res.services)
    if fleets:
        sections.append(("Fleets: does the fleet bind?", fleets))
    if len(res.segments):
        sections.append(("Segment paths", _table(res.segments, [
            ("gate", "gate"), ("segment", "segment"), ("capacity/day", "capacity_per_day"),
            ("vehicles/day", "vehicles_per_day"), ("utilisation (of paths open)", "utilization"),
            ("utilisation (of nominal)", "utilization_nominal"), ("queue at end", "queue_at_end"),
            ("settles", _settles)])))
    return title, intro, sections


def _fleets_section(services: pd.DataFrame) -> str:
    """Cargo waiting for a vehicle against vehicles waiting for cargo, per service with a fleet."""
    from corridor_sim.results import fleet_verdict

    if services is None or "vehicles" not in services.columns:
        return ""
    fleets = services[services["vehicles"].notna()]
    if not len(fleets):
        return ""
    note = ("<p class='note'>Share of vehicle time loaded (on a timetable trip), running back empty, turning "
            "around and idle at a terminal. Late departures (left after their time, or when due, because no "
            "vehicle was back) are cargo waiting for a vehicle; idle vehicles are vehicles waiting for cargo. "
            "If cargo waits while vehicles are seldom idle, the fleet binds; if vehicles wait, demand or the "
            "infrastructure does.</p>")
    return note + _table(fleets, [
        ("service", "service"), ("vehicles", "vehicles"), ("loaded", "loaded_share"), ("empty", "empty_share"),
        ("turnaround", "turnaround_share"), ("idle (vehicles waiting)", "idle_share"),
        ("late departures (cargo waiting)", "late_departures"), ("mean late (h)", "mean_late_h"),
        ("cancelled", "cancelled_departures"), ("empty TEU/day", "empty_teu_per_day"),
        ("empty vehicle-km/day", "empty_vehicle_km_per_day"),
        ("who waits", lambda r: fleet_verdict(r))])


def _experiment_sections(folder: Path, kind: str) -> tuple[str, str, list[tuple[str, str]]]:
    df = pd.read_csv(folder / f"{kind}.csv")
    doc_path = folder / f"{kind}.json"
    doc = json.loads(doc_path.read_text()) if doc_path.is_file() else {}
    sections = []
    if kind == "compare":
        variants = doc.get("variants") or {}
        title = f"Comparison: {', '.join(variants) or 'variants'} against {doc.get('base', 'the base')}"
        intro = (f"<p class='meta'>{_e(doc.get('replications', '?'))} replications, seed {_e(doc.get('seed', '?'))}, "
                 "common random numbers; differences are variant minus base, with paired 95% confidence "
                 "intervals.</p>")
        sections.append(("Differences per flow", _table(df, [
            ("variant", "variant"), ("flow", "flow"), ("metric", "metric"), ("base", "base_mean"),
            ("variant mean", "variant_mean"), ("difference", "diff_mean"),
            ("paired 95% CI", lambda r: _ci(r.get("ci95_low"), r.get("ci95_high"))),
            ("unpaired 95% CI", lambda r: _ci(r.get("ci95_unpaired_low"), r.get("ci95_unpaired_high"))),
            ("significant", lambda r: "yes" if str(r.get("significant")).lower() in ("true", "1") else "no")])))
    elif kind == "sweep":
        keys = doc.get("keys") or []
        title = f"Sweep of {', '.join(keys) or 'parameters'}" + (f" in {doc['scenario']}" if doc.get("scenario") else "")
        intro = "<p class='meta'>One row per point and flow; transit in days with 95% confidence intervals.</p>"
        cols = [(k, k) for k in keys if k in df.columns] + [
            ("flow", "flow"), ("transit mean", "transit_days_mean"),
            ("95% CI", lambda r: _ci(r.get("transit_days_ci95_low"), r.get("transit_days_ci95_high"))),
            ("p95", "transit_days_p95"), ("throughput TEU/day", "throughput_teu_per_day"),
            ("95% CI", lambda r: _ci(r.get("throughput_ci95_low"), r.get("throughput_ci95_high"))),
            ("busiest", "busiest"), ("utilisation", "busiest_utilization")]
        sections.append(("Points", _table(df, cols)))
    else:
        title = f"Capacity of flow {doc.get('flow', '?')}" + (f" in {doc['scenario']}" if doc.get("scenario") else "")
        found = doc.get("capacity_teu_per_year")
        bottleneck = (doc.get("bottleneck") or {}).get("name")
        text = (f"Capacity {_fmt(found, 0)} TEU/year ({_fmt(doc.get('capacity_teu_per_day'), 1)} TEU/day)"
                if found is not None else "Capacity not found")
        text += f"; {doc.get('note', '')}" if doc.get("note") else ""
        if bottleneck:
            text += f"; bottleneck: {bottleneck}"
        intro = f"<p class='meta'>{_e(text)}</p>"
        criteria = (doc.get("criteria") or {}).get("text")
        if criteria:
            intro += f"<p class='note'>Criteria: {_e(criteria)}</p>"
        sections.append(("Demand levels tried", _table(df, [
            ("step", "step"), ("phase", "phase"), ("demand TEU/year", "demand_teu_per_year"),
            ("demand TEU/day", "demand_teu_per_day"), ("delivered TEU/day", "throughput_teu_per_day"),
            ("worst throughput ratio", "throughput_ratio"), ("backlog growth", "backlog_growth"),
            ("transit mean", "transit_days_mean"), ("transit p95", "transit_days_p95"),
            ("feasible", lambda r: "yes" if str(r.get("feasible")).lower() in ("true", "1") else "no"),
            ("reason", lambda r: "" if pd.isna(r.get("reason")) else str(r.get("reason"))),
            ("busiest", "busiest")])))
    return title, intro, sections


def build_report(folder: str | Path, dpi: int = 100) -> str:
    """The HTML text of the report on a results folder (a run, compare, sweep or capacity folder)."""
    folder = Path(folder)
    kind = experiment_kind(folder)
    if kind == "run":
        title, intro, sections = _run_sections(folder)
    else:
        title, intro, sections = _experiment_sections(folder, kind)
    figures = [_figure_html(stem, fig, dpi) for stem, fig in folder_figures(folder)]
    parts = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>{_e(title)} — corridor-sim report</title><style>{CSS}</style></head><body>",
             f"<h1>{_e(title)}</h1>", intro]
    nav = [("tables", "Tables"), ("figures", "Figures"), ("scenario", "Scenario")]
    parts.append("<nav>" + "".join(f"<a href='#{a}'>{_e(t)}</a>" for a, t in nav) + "</nav>")
    parts.append("<div id='tables'>")
    for heading, body in sections:
        parts.append(f"<h2>{_e(heading)}</h2>{body}")
    parts.append("</div><h2 id='figures'>Figures</h2>")
    parts += figures or ["<p class='note'>(no figure applies to this folder)</p>"]
    parts.append("<h2 id='scenario'>Scenario (merged YAML)</h2>")
    yaml_path = folder / "scenario.yaml"
    if yaml_path.is_file():
        parts.append(f"<pre>{_e(yaml_path.read_text())}</pre>")
    else:
        parts.append("<p class='note'>(no scenario.yaml in the folder)</p>")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f"<p class='note'>Written by corridor-sim from {_e(folder.resolve())} on {_e(stamp)}.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(folder: str | Path, out: str | Path | None = None, dpi: int = 100) -> Path:
    """Write the report of a results folder to `out` (default: folder/report.html); return the path."""
    folder = Path(folder)
    path = Path(out) if out is not None else folder / "report.html"
    text = build_report(folder, dpi=dpi)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
