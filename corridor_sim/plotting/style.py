"""Colours, line styles and the figure factory shared by every figure.

One palette for the whole package: modes (rail, road, sea), the categories of time spent
(travel, wait, handling, border, queue, dwell), scenarios and flows. Figures are built on
`matplotlib.figure.Figure` with the Agg canvas, never through pyplot's global state, so they draw
alike in scripts, tests and notebooks; `_place_labels` puts text labels near points without
overlaps (the map and the overlaid distance charts use it).
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


MODE_COLORS = {"rail": "#1b4f8a", "road": "#b5651d", "sea": "#0f9bb5"}
MODE_LABELS = {"rail": "rail", "road": "road", "sea": "sea (lanes by searoute)"}
CATEGORY_COLORS = {"travel": "#6a8fc7", "wait": "#f2b134", "handling": "#4daf4a", "border": "#d7301f",
                   "queue": "#984ea3", "dwell": "#a6a6a6"}
CATEGORY_LABELS = {"travel": "travel (incl. dwell on board)", "wait": "waiting for departure or path",
                   "handling": "handling", "border": "border", "queue": "queueing for a server",
                   "dwell": "dwell on board at a stop"}
CATEGORY_ORDER = ["travel", "wait", "handling", "border", "queue"]
SCENARIO_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
FLOW_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf"]
LAND_COLOR, WATER_COLOR, BORDER_COLOR = "#efebe2", "#d6e6f2", "#a39d92"
UTIL_CMAP = "RdYlGn_r"
MIN_LAKE_KM2 = 2500.0
OVERLAY_COLORS = ["#1f3b73", "#0f9bb5", "#8c510a", "#222222", "#c51b7d", "#35978f", "#6a51a3", "#b8860b"]
MODE_STYLES = {"rail": "-", "road": (0, (1, 1.2)), "sea": (0, (5, 2))}


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained", dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _place_labels(fig, ax, items: list[tuple[float, float, str]], fontsize: float = 8, draw: bool = True) -> list:
    """Put text labels near points without overlaps; items come in priority order. Returns the texts."""
    if draw:
        fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    taken = []
    ax_box = ax.get_window_extent(renderer)
    placed = []
    offsets = [(6, 5, "left", "bottom"), (6, -5, "left", "top"), (-6, 5, "right", "bottom"),
               (-6, -5, "right", "top"), (0, 9, "center", "bottom"), (0, -9, "center", "top")]
    for x, y, text in items:
        for dx, dy, ha, va in offsets:
            t = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                            fontsize=fontsize, zorder=6, annotation_clip=True,
                            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75})
            t.set_in_layout(False)
            box = t.get_window_extent(renderer).expanded(1.04, 1.1)
            inside = (box.x0 >= ax_box.x0 and box.x1 <= ax_box.x1 and box.y0 >= ax_box.y0 and box.y1 <= ax_box.y1)
            if inside and not any(box.overlaps(b) for b in taken):
                taken.append(box)
                placed.append(t)
                break
            t.remove()
    return placed
