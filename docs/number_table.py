"""The "Every number, file by file" tables of docs/data-sources.md, from the scenarios' trailing comments.

    .venv/bin/python docs/number_table.py scenarios/instc_2025.yaml scenarios/rasht_astara_open.yaml \
        scenarios/demand_2030.yaml scenarios/rasht_astara_open_2030.yaml scenarios/caspian_severe_winter.yaml \
        scenarios/gulf_red_sea_disruption.yaml scenarios/border_fast_track.yaml

prints, for each file, one Markdown row per number (and date or season day) that the file itself writes:
its section, the id of the item it belongs to, its key path within the item, the value, the unit (from
the key's name) and the source tag or estimate exactly as the line's trailing comment gives it. A
number whose line has no comment is printed with "NO SOURCE" so that it shows. Lines are read as text
(the YAML loader drops comments); block mappings, list items and one-line flow mappings are handled.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

UNITS = [("usd_per_teu_km", "USD/TEU-km"), ("usd_per_teu", "USD/TEU"), ("kg_per_teu_km", "kg/TEU-km"),
         ("kg_per_teu", "kg/TEU"), ("_per_km", "per km"), ("teu_per_year", "TEU/yr"), ("teu_per_call", "TEU"),
         ("teu_per_hour", "TEU/h"), ("capacity_teu", "TEU/departure"), ("yard_teu", "TEU"),
         ("tonnes_per_teu", "t/TEU"), ("capacity_per_day", "vehicles/day"), ("vehicles_per_day", "vehicles/day"),
         ("value_of_time_usd_per_teu_h", "USD/TEU-h"), ("shipment_teu", "TEU"), ("servers", "servers"),
         ("vehicles", "vehicles"), ("lon", "deg E"), ("lat", "deg N"), ("factor", "factor"), ("share", "share"),
         ("logit_scale", "per USD"), ("gauge_mm", "mm"), ("count", "berths"), ("sections", "sections"),
         ("tracks", "tracks"), ("replications", "runs"), ("seed", "-"), ("start_date", "date"), ("from", "MM-DD"),
         ("to", "MM-DD"), ("_kmh", "km/h"), ("_km", "km"), ("_h", "h"), ("_days", "days"), ("_day", "days")]
# Distribution parameters take the unit of the key they belong to.
DIST_KEYS = {"low", "mode", "high", "mean", "sd", "value"}


def _unit(path: list[str]) -> str:
    key = path[-1]
    if key in DIST_KEYS or key.startswith('"'):
        key = next((p for p in reversed(path[:-1]) if p not in DIST_KEYS and not p.startswith('"')
                    and p not in ("default",)), key)
    for suffix, unit in UNITS:
        if key.endswith(suffix):
            return unit
    return "-"


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _flat(value, path):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flat(v, [*path, str(k)])
    elif _is_number(value) or re.fullmatch(r"\d\d-\d\d", str(value)) or hasattr(value, "isoformat"):
        yield path, value


def rows(text: str):
    """(section, item id, key path, value, comment) for every number the file writes."""
    stack: list[tuple[int, str]] = []  # (indent, key) of the open mappings
    item_id, item_indent = "", -1
    section = ""
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        comment = raw.split(" #", 1)[1].strip() if " #" in raw and not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        body = line.strip()
        if body.startswith("- ") and not re.match(r"- (\{\s*)?id:", body):
            continue  # an element of a list inside an item (a route's path): no numbers of its own
        if body.startswith("- "):
            body = body[2:]
            indent += 2
            item_indent = indent
            stack = [s for s in stack if s[0] < indent]
            if body.startswith("{"):
                data = yaml.safe_load(body)
                item_id = str(data.get("id", ""))
                for path, value in _flat({k: v for k, v in data.items() if k != "id"}, []):
                    yield section, item_id, ".".join(path), value, comment
                continue
            match = re.match(r"id:\s*(\S+)", body)
            item_id = match.group(1) if match else item_id
        stack = [s for s in stack if s[0] < indent]
        if indent == 0:
            item_id, item_indent = "", -1
        if ":" not in body:
            continue
        key, _, value = body.partition(":")
        key, value = key.strip(), value.strip()
        if indent == 0:
            section = key
        elif key in ("nodes", "segments") and indent == 2 and section in ("network", "nodes", "segments"):
            section = key
        if not value:
            stack.append((indent, key))
            continue
        if key == "id":
            continue
        parsed = yaml.safe_load(value) if not value.startswith("[") else None
        inner = [k for i, k in stack if i >= item_indent] if item_indent >= 0 else [k for i, k in stack[1:]]
        owner = item_id or (stack[1][1] if section in ("costs",) and len(stack) > 1 else section)
        if section == "costs" and len(stack) > 1:
            inner = [k for i, k in stack[2:]]
        for path, v in _flat(parsed, [*inner, key]) if isinstance(parsed, dict) else [([*inner, key], parsed)]:
            if _is_number(v) or re.fullmatch(r"\d\d-\d\d", str(v)) or hasattr(v, "isoformat"):
                yield section, owner, ".".join(path), v, comment


def table(path: Path) -> str:
    out = [f"### {path.name}", "", "| section | id | key | value | unit | source / estimate |",
           "|---|---|---|---|---|---|"]
    for section, owner, key, value, comment in rows(path.read_text()):
        out.append(f"| {section} | {owner} | {key} | {value} | {_unit(key.split('.'))} | "
                   f"{comment.replace('|', '/') or 'NO SOURCE'} |")
    return "\n".join(out)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: number_table.py SCENARIO.yaml ...")
    print("\n\n".join(table(Path(p)) for p in sys.argv[1:]))
