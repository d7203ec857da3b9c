"""Every figure of a results folder: which ones apply, and writing them to folder/figures/.

`FIGURE_NAMES` maps each run figure's file stem to its function in `corridor_sim.plotting`; a
compare, sweep or capacity folder gets its own chart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from matplotlib.figure import Figure

from corridor_sim.results_dir import NotApplicable, load_results_dir


FIGURE_NAMES = {
    "monthly": "plot_monthly",
    "network_map": "plot_network_map",
    "transit_distributions": "plot_transit_distributions",
    "time_distance": "plot_time_distance",
    "cost_distance": "plot_cost_distance",
    "time_breakdown": "plot_time_breakdown",
    "utilisation": "plot_utilisation",
    "queues": "plot_queues",
    "throughput": "plot_throughput",
    "route_shares": "plot_route_shares",
}


def _package():
    """The `corridor_sim.plotting` package, whose names the figures are looked up by (at call time,
    so a figure replaced there, e.g. in a test, is the one drawn)."""
    import corridor_sim.plotting

    return corridor_sim.plotting


def experiment_kind(folder: str | Path) -> str:
    """'run', 'compare', 'sweep' or 'capacity' for a results folder.

    Raises:
        FileNotFoundError: the folder holds none of these results.
    """
    folder = Path(folder)
    for kind in ("compare", "sweep", "capacity"):
        if (folder / f"{kind}.csv").is_file():
            return kind
    if (folder / "summary.json").is_file() and (folder / "flows.csv").is_file():
        return "run"
    raise FileNotFoundError(f"{folder} is not a corridor-sim results folder (no summary.json, compare.csv, "
                            "sweep.csv or capacity.csv)")


def run_figures(res) -> Iterable[tuple[str, Figure]]:
    """(file stem, Figure) for every figure that applies to a run, skipping those without their data."""
    plotting = _package()
    for stem, func_name in FIGURE_NAMES.items():
        try:
            fig = getattr(plotting, func_name)(res)
        except NotApplicable:
            continue
        yield stem, fig


def folder_figures(folder: str | Path) -> Iterable[tuple[str, Figure]]:
    """(file stem, Figure) for every figure that applies to a results folder of any kind."""
    kind = experiment_kind(folder)
    plotting = _package()
    if kind == "run":
        yield from run_figures(load_results_dir(folder))
    elif kind == "compare":
        yield "comparison", plotting.plot_comparison(folder)
    elif kind == "sweep":
        yield "sweep", plotting.plot_sweep(folder)
    else:
        yield "capacity", plotting.plot_capacity(folder)


def plot_results_dir(folder: str | Path, formats: Sequence[str] = ("png",), dpi: int = 120) -> list[Path]:
    """Write every figure that applies to a results folder into folder/figures/; return the paths.

    A run's folder gets the map, transit distributions, time- and cost-distance, where the time goes,
    utilisation, queues and throughput (each only when its data is there); a compare, sweep or
    capacity folder gets its chart.
    """
    folder = Path(folder)
    out = folder / "figures"
    written = []
    for stem, fig in folder_figures(folder):
        out.mkdir(exist_ok=True)  # only once a figure is drawn: a folder that cannot be read is left alone
        for fmt in formats:
            path = out / f"{stem}.{fmt}"
            fig.savefig(path, dpi=dpi, format=fmt)
            written.append(path)
    return written
