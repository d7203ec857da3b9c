"""The INSTC variant table of docs/instc.md, from a `corridor-sim compare` results folder.

    .venv/bin/corridor-sim compare scenarios/instc_2025.yaml scenarios/rasht_astara_open.yaml \
        scenarios/demand_2030.yaml scenarios/rasht_astara_open_2030.yaml \
        scenarios/caspian_severe_winter.yaml scenarios/gulf_red_sea_disruption.yaml \
        scenarios/border_fast_track.yaml --replications 5 --jobs 2 --out results/instc_compare
    .venv/bin/python docs/variant_table.py results/instc_compare

prints the Markdown table (mean / p95 transit days of the four named India-Russia flows, the share of
measured shipments delivered, TEU a day delivered, the busiest element and what does not settle) and
the paired differences of the named flows.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

NAMED = ["JNPT-MOW-west", "JNPT-MOW-caspian", "JNPT-MOW-east", "JNPT-MOW-suez"]


def _cell(flow: dict) -> str:
    t = flow["transit_days"]
    p95 = t.get("p95")
    return f"{t['mean']:.1f} / {p95:.1f}" if p95 is not None else f"{t['mean']:.1f} / >follow-up"


def table(folder: Path) -> str:
    summaries = json.loads((folder / "summaries.json").read_text())
    compare = json.loads((folder / "compare.json").read_text())
    lines = ["| scenario | " + " | ".join(NAMED) + " | delivered (of created) | TEU/day delivered (all flows) "
             "| busiest (utilisation) | does not settle |",
             "|---|" + "---|" * (len(NAMED) + 4)]
    for name, doc in summaries.items():
        flows = doc["flows"]
        created = sum(f["created"] or 0 for f in flows.values())
        delivered = sum(f["delivered"] or 0 for f in flows.values())
        teu = sum(f["throughput_teu_per_day"]["mean"] or 0 for f in flows.values())
        busiest = doc["busiest"]
        unstable = doc.get("unstable") or []
        lines.append(f"| {name} | " + " | ".join(_cell(flows[f]) for f in NAMED) +
                     f" | {delivered / created:.1%} | {teu:,.0f} | {busiest['name']} ({busiest['utilization']:.2f}) "
                     f"| {', '.join(unstable) if unstable else 'nothing'} |")
    lines += ["", "Paired differences (variant minus base, common random numbers), transit days, 95% interval:"]
    for variant, doc in compare["variants"].items():
        parts = []
        for flow in NAMED:
            d = doc["flows"].get(flow, {}).get("transit_days_diff")
            if d is not None and d.get("significant"):
                lo, hi = d["ci95"]
                parts.append(f"{flow} {d['mean']:+.2f} [{lo:+.2f}, {hi:+.2f}]")
        lines.append(f"- {variant}: " + ("; ".join(parts) if parts else "no significant change on the named flows"))
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: variant_table.py COMPARE_FOLDER")
    print(table(Path(sys.argv[1])))
