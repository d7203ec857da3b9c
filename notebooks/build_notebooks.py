"""Write the three notebooks of this folder from the cells below, without outputs.

Run from anywhere: `python notebooks/build_notebooks.py`. Edit the cells here rather than the .ipynb
files, so the stored notebooks stay output-free and reviewable. Each notebook starts with a cell
tagged "parameters" whose values can be overridden by environment variables (tests/test_notebooks.py
runs them small that way):

  CORRIDOR_SIM_NB_SCENARIO, CORRIDOR_SIM_NB_VARIANT   scenario files (relative to notebooks/)
  CORRIDOR_SIM_NB_REPLICATIONS                        replications per scenario
  CORRIDOR_SIM_NB_HORIZON_DAYS                        simulated days (warm-up cut to half of it if longer)
  CORRIDOR_SIM_NB_JOBS                                worker processes (default: all cores)
  CORRIDOR_SIM_NB_OUT                                 folder for results written by the notebook
  CORRIDOR_SIM_NB_SWEEP_KEY, CORRIDOR_SIM_NB_SWEEP_VALUES, CORRIDOR_SIM_NB_SWEEP_FLOWS,
  CORRIDOR_SIM_NB_CAPACITY_SCENARIO, CORRIDOR_SIM_NB_CAPACITY_FLOW,
  CORRIDOR_SIM_NB_TOLERANCE, CORRIDOR_SIM_NB_P95_DAYS the sensitivity notebook's sweep and capacity search
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = '''\
%matplotlib inline
import copy
from pathlib import Path

import pandas as pd
from IPython.display import display

import corridor_sim as cs
from corridor_sim import plotting
from corridor_sim.scenario import scenario_from_dict

pd.set_option("display.precision", 2)
pd.set_option("display.width", 160)


def shortened(scenario, horizon_days):
    """The scenario with another horizon (and a warm-up of at most half of it), or as it is.

    A short run still needs a warm-up longer than most transit times, or shipments created late in
    the window make throughput look short of demand."""
    if not horizon_days:
        return scenario
    data = copy.deepcopy(scenario.data())
    sim = data.setdefault("simulation", {})
    sim["horizon_days"] = horizon_days
    sim["warmup_days"] = min(sim.get("warmup_days", 30), horizon_days / 2)
    return scenario_from_dict(data, scenario.source_file)'''


def _params(lines: str):
    cell = new_code_cell(lines)
    cell.metadata["tags"] = ["parameters"]
    return cell


COMMON_PARAMS = '''\
import os

# Parameters: each can be overridden by an environment variable (see build_notebooks.py).
REPLICATIONS = int(os.environ.get("CORRIDOR_SIM_NB_REPLICATIONS", "{replications}"))
HORIZON_DAYS = float(os.environ.get("CORRIDOR_SIM_NB_HORIZON_DAYS", "0")) or None  # None: the scenario's horizon
JOBS = int(os.environ.get("CORRIDOR_SIM_NB_JOBS", "0")) or cs_default_jobs()
OUT = os.environ.get("CORRIDOR_SIM_NB_OUT", "../results/notebooks")'''


def quickstart() -> nbformat.NotebookNode:
    params = ('from corridor_sim.experiments import default_jobs as cs_default_jobs\n'
              + COMMON_PARAMS.format(replications=5)
              + '\nSCENARIO = os.environ.get("CORRIDOR_SIM_NB_SCENARIO", "../scenarios/instc_2025.yaml")')
    cells = [
        new_markdown_cell(
            "# Quick start: run the base INSTC scenario and look at it\n\n"
            "This notebook loads a scenario, runs its replications, prints the main tables and draws the "
            "standard figures. The first code cell holds the parameters (scenario file, replications, "
            "horizon); each can be overridden by an environment variable, which is how the test suite "
            "runs it small. The same figures come from the command line with "
            "`corridor-sim run scenarios/instc_2025.yaml --plots` or `corridor-sim plot RESULTS_DIR`."),
        _params(params),
        new_code_cell(SETUP),
        new_markdown_cell("## Load and check the scenario\n\n"
                          "`load_scenario` validates the file and reports every fault at once."),
        new_code_cell(
            "scenario = shortened(cs.load_scenario(SCENARIO), HORIZON_DAYS)\n"
            "sim = scenario.simulation\n"
            "print(f\"{scenario.name}: {len(scenario.network.nodes)} nodes, {len(scenario.network.segments)} segments, \"\n"
            "      f\"{len(scenario.services)} services, {len(scenario.demand)} flows, {len(scenario.disruptions)} disruptions\")\n"
            "print(f\"{sim.horizon_days:g} simulated days, {sim.warmup_days:g} of warm-up, {REPLICATIONS} replications\")\n"
            "pd.DataFrame([{\"flow\": f.id, \"origin\": f.origin, \"destination\": f.destination,\n"
            "               \"TEU/year\": f.teu_per_year} for f in scenario.demand])"),
        new_markdown_cell("## Run\n\nReplications run in parallel processes; replication 0 keeps the per-stage "
                          "rows that the time-distance chart needs."),
        new_code_cell("results = cs.run(scenario, replications=REPLICATIONS, jobs=JOBS)\n"
                      "print(results.format_tables().split(chr(10) + chr(10))[0])"),
        new_markdown_cell("## Flows\n\nMean transit with its 95% confidence interval over replications, "
                          "percentiles over shipments, throughput in TEU per day, cost and CO2 per TEU."),
        new_code_cell(
            "results.flows[[\"flow\", \"demand_teu_per_day\", \"throughput_teu_per_day\", \"transit_days_mean\",\n"
            "               \"transit_days_ci95_low\", \"transit_days_ci95_high\", \"transit_days_p50\", \"transit_days_p95\",\n"
            "               \"cost_usd_per_teu\", \"co2_kg_per_teu\"]]"),
        new_markdown_cell("## The corridor on a map\n\nSegments coloured by mode with width by TEU carried; "
                          "facilities coloured by utilisation."),
        new_code_cell("plotting.plot_network_map(results)"),
        new_markdown_cell("## Where the time goes"),
        new_code_cell("plotting.plot_time_breakdown(results)"),
        new_markdown_cell("## Time-distance and cost-distance\n\nThe longest routes by default: the median "
                          "journey of the simulated shipments with vertical steps for time spent at a place, "
                          "and the cost per TEU along the route."),
        new_code_cell("plotting.plot_time_distance(results)"),
        new_code_cell("plotting.plot_cost_distance(results)"),
        new_markdown_cell("## Transit-time distributions of the busiest flows"),
        new_code_cell("plotting.plot_transit_distributions(results, max_flows=4)"),
        new_markdown_cell("## Utilisation, queues and throughput over time"),
        new_code_cell("plotting.plot_utilisation(results)"),
        new_code_cell("try:\n"
                      "    display(plotting.plot_queues(results))\n"
                      "except plotting.NotApplicable as why:\n"
                      "    print(f\"no queue figure: {why}\")"),
        new_code_cell("plotting.plot_throughput(results)"),
        new_markdown_cell("## Write the results folder and a one-page report\n\n"
                          "The folder holds the tables as CSV, summary.json and the merged scenario; "
                          "report.html embeds the figures and opens in any browser."),
        new_code_cell("from corridor_sim.report import write_report\n\n"
                      "folder = results.write(Path(OUT) / \"quickstart\", force=True)\n"
                      "print(\"report:\", write_report(folder))"),
    ]
    return new_notebook(cells=cells)


def rasht_astara() -> nbformat.NotebookNode:
    params = ('from corridor_sim.experiments import default_jobs as cs_default_jobs\n'
              + COMMON_PARAMS.format(replications=10)
              + '\nBASE = os.environ.get("CORRIDOR_SIM_NB_SCENARIO", "../scenarios/instc_2025.yaml")'
              + '\nVARIANT = os.environ.get("CORRIDOR_SIM_NB_VARIANT", "../scenarios/rasht_astara_open.yaml")'
              + '\n# Flows to look at closely: India-Moscow on the western route and the Russia/Azerbaijan-Iran flows'
              + '\n# whose routing the railway changes.'
              + '\nKEY_FLOWS = os.environ.get("CORRIDOR_SIM_NB_FLOWS", "JNPT-MOW-west,MOW-JNPT-west,MOW-THR-west,'
              'THR-MOW-west,BAK-THR,THR-BAK").split(",")'
              + '\nFACILITIES = ["RST", "ASI", "ASI_ROAD", "ASA", "THR"]')
    cells = [
        new_markdown_cell(
            "# The Rasht-Astara railway: what it changes\n\n"
            "The base scenario is the corridor today; the variant adds the missing 162 km railway between "
            "Rasht and Astara (Iran) and a through train from Bandar Abbas to Astara, so Russia/Azerbaijan - "
            "Iran freight can stay on rail. Both run with **common random numbers** (the same seed and "
            "replication indices), so each flow's difference is measured replication by replication with a "
            "paired 95% confidence interval (`corridor_sim.compare`).\n\n"
            "Questions: how much transit time does the railway save on Mumbai-Moscow and on the Russia-Iran "
            "flows, does throughput change, and where does the time go before and after?"),
        _params(params),
        new_code_cell(SETUP),
        new_code_cell(
            "base_scenario = shortened(cs.load_scenario(BASE), HORIZON_DAYS)\n"
            "variant_scenario = shortened(cs.load_scenario(VARIANT), HORIZON_DAYS)\n"
            "KEY_FLOWS = [f for f in KEY_FLOWS if f in {x.id for x in base_scenario.demand}]\n"
            "print(base_scenario.name, \"->\", variant_scenario.name)\n"
            "print(f\"{base_scenario.simulation.horizon_days:g} days, {REPLICATIONS} replications; flows: {KEY_FLOWS}\")"),
        new_markdown_cell("## Run both with common random numbers\n\n"
                          "`cs.compare(BASE, [VARIANT])` does this in one call. Here both run with `cs.run` and the "
                          "same seed and replication count, so the runs keep the per-stage rows the time-distance "
                          "chart needs, and `compare_results` computes the same paired statistics."),
        new_code_cell(
            "from corridor_sim.experiments import compare_results\n\n"
            "seed = base_scenario.simulation.seed\n"
            "base = cs.run(base_scenario, replications=REPLICATIONS, seed=seed, jobs=JOBS)\n"
            "variant = cs.run(variant_scenario, replications=REPLICATIONS, seed=seed, jobs=JOBS)\n"
            "names = [base_scenario.name, variant_scenario.name]\n"
            "diff = compare_results(base, [variant], names)"),
        new_markdown_cell("## Transit time and throughput: differences with confidence intervals\n\n"
                          "Variant minus base; a difference is significant when its paired 95% CI excludes 0."),
        new_code_cell(
            "table = diff[diff[\"flow\"].isin(KEY_FLOWS)].pivot(index=\"flow\", columns=\"metric\",\n"
            "    values=[\"base_mean\", \"variant_mean\", \"diff_mean\", \"ci95_low\", \"ci95_high\", \"significant\"])\n"
            "table.reindex(KEY_FLOWS)"),
        new_code_cell("plotting.plot_comparison(diff)"),
        new_code_cell(
            "t = diff[(diff[\"metric\"] == \"transit_days\") & diff[\"flow\"].isin(KEY_FLOWS)]\n"
            "for r in t.itertuples():\n"
            "    verdict = \"significant\" if r.significant else \"not significant at 95%\"\n"
            "    print(f\"{r.flow:<16} {r.base_mean:6.2f} -> {r.variant_mean:6.2f} days: {r.diff_mean:+.2f} \"\n"
            "          f\"[{r.ci95_low:+.2f}, {r.ci95_high:+.2f}] ({verdict})\")"),
        new_markdown_cell("## Transit-time distributions, base and variant overlaid"),
        new_code_cell("plotting.plot_transit_distributions([base, variant], flows=KEY_FLOWS[:4], labels=names)"),
        new_markdown_cell("## Where the time goes, before and after"),
        new_code_cell("plotting.plot_time_breakdown([base, variant], flows=KEY_FLOWS, labels=names)"),
        new_markdown_cell("## Time-distance and cost-distance on the western route\n\n"
                          "Side by side: the base left, the variant right, on shared axes."),
        new_code_cell("plotting.plot_time_distance([base, variant], flows=KEY_FLOWS[:1], labels=names)"),
        new_code_cell("plotting.plot_cost_distance([base, variant], flows=[f for f in KEY_FLOWS if f in (\"JNPT-MOW-west\", \"MOW-THR-west\")] or KEY_FLOWS[:1], labels=names)"),
        new_markdown_cell("## Throughput\n\nTEU delivered per day of the measured window with 95% CIs."),
        new_code_cell(
            "cols = [\"flow\", \"demand_teu_per_day\", \"throughput_teu_per_day\", \"throughput_ci95_low\", \"throughput_ci95_high\"]\n"
            "pd.concat({name: r.flows[cols].set_index(\"flow\").loc[KEY_FLOWS] for name, r in zip(names, [base, variant])}, axis=1)"),
        new_code_cell("plotting.plot_throughput(variant, flows=KEY_FLOWS[:4])"),
        new_markdown_cell("## Loads at Rasht, Astara and Tehran\n\nUtilisation (busy servers / servers, 95% CI) "
                          "and mean wait at the facilities the railway touches."),
        new_code_cell(
            "cols = [\"node\", \"utilization\", \"utilization_ci95_low\", \"utilization_ci95_high\", \"mean_wait_h\", \"arrivals_per_day\"]\n"
            "pd.concat({name: r.nodes[cols].set_index(\"node\").reindex(FACILITIES) for name, r in zip(names, [base, variant])}, axis=1)"),
        new_code_cell("plotting.plot_network_map(variant)"),
    ]
    return new_notebook(cells=cells)


def sensitivity() -> nbformat.NotebookNode:
    params = ('from corridor_sim.experiments import default_jobs as cs_default_jobs\n'
              + COMMON_PARAMS.format(replications=5)
              + '\nSCENARIO = os.environ.get("CORRIDOR_SIM_NB_SCENARIO", "../scenarios/instc_2025.yaml")'
              + '\n# The sweep: lanes (servers) at the Astara road border crossing, the busiest facility today.'
              + '\nSWEEP_KEY = os.environ.get("CORRIDOR_SIM_NB_SWEEP_KEY", "network.nodes.ASI_ROAD.handling.servers")'
              + '\nSWEEP_VALUES = os.environ.get("CORRIDOR_SIM_NB_SWEEP_VALUES", "66,77,88,110")'
              + '\nSWEEP_FLOWS = os.environ.get("CORRIDOR_SIM_NB_SWEEP_FLOWS", "IR-AZ-road,AZ-IR-road,MOW-THR-west").split(",")'
              + '\n# The capacity search: the largest demand of one flow the corridor carries in steady state.'
              + '\nCAPACITY_SCENARIO = os.environ.get("CORRIDOR_SIM_NB_CAPACITY_SCENARIO", SCENARIO)'
              + '\nCAPACITY_FLOW = os.environ.get("CORRIDOR_SIM_NB_CAPACITY_FLOW", "JNPT-MOW-west")'
              + '\nTOLERANCE = float(os.environ.get("CORRIDOR_SIM_NB_TOLERANCE", "0.1"))'
              + '\nP95_DAYS = float(os.environ.get("CORRIDOR_SIM_NB_P95_DAYS", "0")) or None')
    cells = [
        new_markdown_cell(
            "# Sensitivity and capacity\n\n"
            "Two questions a planner asks of a corridor model:\n\n"
            "1. **Sweep**: how do transit time and throughput respond to one parameter (here the number of "
            "lanes at the Astara road border crossing)? Every point runs with the same seed, so points differ "
            "by the parameter and not by noise; bands are 95% confidence intervals over replications.\n"
            "2. **Capacity**: how much demand of one flow can the corridor carry before it stops keeping "
            "up, and what binds first? `corridor_sim.capacity` bisects on the flow's demand until delivered "
            "throughput falls behind or a backlog grows."),
        _params(params),
        new_code_cell(SETUP),
        new_code_cell("scenario = shortened(cs.load_scenario(SCENARIO), HORIZON_DAYS)\n"
                      "print(f\"{scenario.name}: {scenario.simulation.horizon_days:g} days, {REPLICATIONS} replications\")"),
        new_markdown_cell("## Sweep"),
        new_code_cell("sweep = cs.sweep(scenario, {SWEEP_KEY: SWEEP_VALUES}, replications=REPLICATIONS, jobs=JOBS)\n"
                      "SWEEP_FLOWS = [f for f in SWEEP_FLOWS if f in set(sweep[\"flow\"])]\n"
                      "sweep[sweep[\"flow\"].isin(SWEEP_FLOWS)][[SWEEP_KEY, \"flow\", \"transit_days_mean\", \"transit_days_ci95_low\",\n"
                      "    \"transit_days_ci95_high\", \"transit_days_p95\", \"throughput_teu_per_day\", \"busiest\", \"busiest_utilization\"]]"),
        new_code_cell("plotting.plot_sweep(sweep, flows=SWEEP_FLOWS or None)"),
        new_markdown_cell("## Capacity of one flow\n\nEvery level tried, feasible or not, with the bottleneck "
                          "(the busiest facility, segment path or service) at the capacity found. Every flow must "
                          "keep up, so the search needs the scenario's full year: a short horizon that ends in "
                          "the Astara winter peak, or a warm-up shorter than the slowest flow's transit, finds no "
                          "feasible level at all."),
        new_code_cell("capacity_scenario = scenario if CAPACITY_SCENARIO == SCENARIO else \\\n"
                      "    shortened(cs.load_scenario(CAPACITY_SCENARIO), HORIZON_DAYS)\n"
                      "cap = cs.capacity(capacity_scenario, CAPACITY_FLOW, p95_days=P95_DAYS, tolerance=TOLERANCE,\n"
                      "                  replications=REPLICATIONS, jobs=JOBS)\n"
                      "doc = cap.attrs[\"json\"]\n"
                      "print(f\"capacity of {CAPACITY_FLOW}: {doc['capacity_teu_per_year']} TEU/year; {doc['note']}\")\n"
                      "print(\"bottleneck:\", doc[\"bottleneck\"])\n"
                      "cap[[\"step\", \"phase\", \"demand_teu_per_day\", \"throughput_teu_per_day\", \"transit_days_mean\",\n"
                      "     \"transit_days_p95\", \"feasible\", \"busiest\"]]"),
        new_code_cell("plotting.plot_capacity(cap)"),
    ]
    return new_notebook(cells=cells)


NOTEBOOKS = {"01_quickstart.ipynb": quickstart, "02_rasht_astara.ipynb": rasht_astara,
             "03_sensitivity.ipynb": sensitivity}


def main() -> None:
    for name, make in NOTEBOOKS.items():
        nb = make()
        for i, cell in enumerate(nb.cells):
            cell.id = f"{name[:2]}-{i:02d}"  # stable ids: regenerating changes nothing but the cells edited
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        nbformat.validate(nb)
        nbformat.write(nb, HERE / name)
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
