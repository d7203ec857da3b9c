"""The results' tables without pandas (corridor_sim/tables.py) against pandas: same values, means, order and CSV bytes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import corridor_sim as cs
from corridor_sim.estimators import ALPHA, growth_test
from corridor_sim.tables import FLOAT, INT, Table, nanmean

EXAMPLE = Path(__file__).parent / "scenarios" / "example.yaml"
TABLES = ("flows_by_replication", "flows", "nodes", "services", "segments")


def same_rows(table: Table, frame: pd.DataFrame) -> bool:
    """Every row field of the same type and value (NaN equal to NaN) as DataFrame.itertuples gives it."""
    mine, theirs = list(table.itertuples()), list(frame.itertuples())
    if len(mine) != len(theirs) or (mine and mine[0]._fields != theirs[0]._fields):
        return False
    return all(type(a) is type(b) and (a == b or (a != a and b != b))
               for r, s in zip(mine, theirs) for a, b in zip(r, s))


def csv_text(write, tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    write(path)
    return path.read_bytes().decode()


@pytest.fixture(scope="module", params=[False, True], ids=["per-shipment", "summary-only"])
def results(request):
    scenario = cs.load_scenario(EXAMPLE)
    return cs.run(scenario, replications=3, summary_only=request.param)


def test_results_tables_equal_their_dataframes(results, tmp_path):
    """Each small table of a run has the DataFrame's columns, types, values and CSV bytes, and its column means are pandas' bit for bit."""
    for name in TABLES:
        table = results._tables[name]
        frame = getattr(results, name)  # built on first use from the same rows
        assert list(frame.columns) == table.columns and len(frame) == len(table) > 0
        assert same_rows(table, frame), name
        assert csv_text(table.to_csv, tmp_path, f"{name}.a") == csv_text(
            lambda p: frame.to_csv(p, index=False), tmp_path, f"{name}.b"), name
        for c in table.columns:
            if table.kinds[c] in (FLOAT, INT):
                mine, theirs = table.mean(c), frame[c].mean()
                assert mine == theirs or (math.isnan(mine) and math.isnan(theirs)), (name, c)
    queues = results._queues_table()
    assert len(queues) > 0 and same_rows(queues, results.queues())
    assert csv_text(queues.to_csv, tmp_path, "q.a") == csv_text(
        lambda p: results.queues().to_csv(p, index=False), tmp_path, "q.b")


def test_summary_and_printout_do_not_depend_on_the_dataframes(results):
    """summary() and format_tables() are the same from the tables without pandas and from the DataFrames read back."""
    scenario = cs.load_scenario(EXAMPLE)
    fresh = cs.Results(scenario, results.seed, results.outputs)
    before_summary, before_text = fresh.summary(), fresh.format_tables()
    for name in TABLES:
        getattr(fresh, name)  # now every reader goes through the DataFrames
    assert all(name in fresh.__dict__ for name in TABLES)
    assert fresh.summary() == before_summary and fresh.format_tables() == before_text


def test_written_small_csv_files_are_pandas_to_csv(results, tmp_path):
    """The folder's flows, flows_by_replication, nodes, services, segments and queues CSV files are byte for byte what DataFrame.to_csv writes."""
    folder = results.write(tmp_path / "res", shipments=False)
    for name in TABLES:
        assert (folder / f"{name}.csv").read_text() == getattr(results, name).to_csv(index=False), name
    assert (folder / "queues.csv").read_text() == results.queues().to_csv(index=False)


@pytest.mark.parametrize("values", [
    [True, False], [1, 2], [np.int64(3), 4], [1, 2.5], [1, math.nan], [1, None], [math.nan, None], [None, None],
    ["a", "b"], ["a", None], ["a", math.nan], [True, math.nan], [True, 1], ["a", 1], [np.float64(0.1), 0.2],
    [1e16, 1e-5, 123456789.125, -0.0], ['with "quotes", commas', "line\nbreak"],
])
def test_column_types_values_and_csv_are_those_of_pandas(values, tmp_path):
    """A column built from rows of dicts gets pandas' type, values and CSV text, for every mix of Python and numpy values."""
    rows = [{"c": v, "i": k} for k, v in enumerate(values)]
    table, frame = Table.from_rows(rows), pd.DataFrame(rows)
    assert same_rows(table, frame)
    assert csv_text(table.to_csv, tmp_path, "a") == frame.to_csv(index=False)


@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 31, 129, 1000])
def test_mean_and_sort_are_pandas_bit_for_bit(n):
    """Column means (NaN skipped) and the descending sort with NaN last are pandas' exactly, across numpy's pairwise-summation block sizes."""
    rng = np.random.default_rng(n)
    x = rng.lognormal(0, 3, n) * rng.choice([-1, 1], n)
    x[rng.random(n) < 0.2] = math.nan
    x[rng.random(n) < 0.2] = 1.0  # ties
    ints = rng.integers(-10**6, 10**6, n)
    table = Table.from_rows([{"x": float(a), "k": int(b)} for a, b in zip(x, ints)])
    frame = pd.DataFrame({"x": x, "k": ints})
    for c in ("x", "k"):
        mine, theirs = table.mean(c), frame[c].mean()
        assert mine == theirs or (math.isnan(mine) and math.isnan(theirs))
    for ascending in (False, True):
        assert table.sort_values("x", ascending).index == list(frame.sort_values("x", ascending=ascending).index)
    assert math.isnan(nanmean([], FLOAT)) and math.isnan(nanmean([math.nan], FLOAT))


def test_growth_test_decides_as_the_full_t_test():
    """Skipping the t-test when the slope is under the floor changes no decision: the flags equal those of the test always computed."""
    from scipy.special import stdtr

    rng = np.random.default_rng(7)
    t = np.arange(200.0)
    flagged = 0
    for trial in range(300):
        slope = rng.choice([0.0, 0.02, 0.05, 0.2, -0.1])
        series = [(t, 20 + slope * t + rng.normal(0, rng.choice([0.5, 3, 10]), len(t)))
                  for _ in range(rng.integers(1, 4))]
        rate = float(rng.choice([0.0, 1.0, 5.0, 30.0]))
        got = growth_test(series, rate)
        # The decision as written before: p always computed, then p < ALPHA and both above the floor.
        slopes = [float(np.polyfit(a, b, 1)[0]) for a, b in series]
        floor = 0.01 * rate if rate > 0 else 0.0
        p = got["p_value"]
        if math.isnan(p):  # not computed: recompute it as before, to show that it could not flag
            p_full = _full_p(series, stdtr)
            assert not (p_full < ALPHA and got["growth_per_day"] > floor and _pooled_slope(series) > floor)
        flagged += not got["stable"]
        assert got["growth_per_day"] == pytest.approx(np.mean(slopes), rel=1e-9, abs=1e-12)
    assert 0 < flagged < 300  # both outcomes were exercised


def _batched(series):
    xs, ys = [], []
    for t, y in series:
        edges = np.linspace(t[0], t[-1] + 1e-9, 11)
        idx = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, 9)
        means = np.bincount(idx, weights=y, minlength=10) / np.bincount(idx, minlength=10)
        mids = (edges[:-1] + edges[1:]) / 2
        xs.append(mids - mids.mean())
        ys.append(means - means.mean())
    return np.concatenate(xs), np.concatenate(ys), len(xs)


def _pooled_slope(series) -> float:
    x, y, _ = _batched(series)
    return float(np.dot(x, y) / np.dot(x, x))


def _full_p(series, stdtr) -> float:
    x, y, k = _batched(series)
    dof = len(x) - k - 1
    b = float(np.dot(x, y) / np.dot(x, x))
    resid = y - b * x
    se = math.sqrt(float(np.dot(resid, resid)) / max(dof, 1) / float(np.dot(x, x)))
    return (0.0 if b > 0 else 1.0) if se == 0 else float(1.0 - stdtr(max(dof, 1), b / se))


def test_results_pickle_with_their_lazy_tables(results):
    """A Results survives pickling (as a worker or a cache would send it) with the same summary and DataFrames."""
    import pickle

    scenario = cs.load_scenario(EXAMPLE)
    fresh = cs.Results(scenario, results.seed, results.outputs)
    copied = pickle.loads(pickle.dumps(fresh))  # before any DataFrame was built
    assert copied.summary() == fresh.summary()
    assert copied.flows.equals(fresh.flows) and copied.queues().equals(fresh.queues())
    again = pickle.loads(pickle.dumps(copied))  # with its DataFrames built
    assert again.nodes.equals(fresh.nodes) and again.format_tables() == fresh.format_tables()
