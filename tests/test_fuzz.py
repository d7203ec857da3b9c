"""Fuzzing (issue 16): mutated scenarios always end cleanly, in exit 0 or a located exit 2.

Hypothesis mutates a small valid scenario: values replaced by other types and by numbers including
inf, NaN, huge and tiny ones; keys removed or added; ids duplicated or made lists; the text cut
short. `validate` and a short `run` must then end in exit 0, or exit 2 with every error line naming
the file, never with a traceback (an exception escaping `main`), and each within a time bound. The
example budget is small and the search derandomized, so CI runs the same examples in well under a
minute.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import signal
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corridor_sim.cli import main

SMALL = Path(__file__).parent / "scenarios" / "reliability" / "small.yaml"
BASE = yaml.safe_load(SMALL.read_text())
SECONDS_PER_COMMAND = 30  # generous for a loaded CI machine; a clean run takes about one second
MAX_WORK = "200000"  # mutated demand or horizons beyond this are refused quickly, not simulated


def _get_base(path):
    node = BASE
    for part in path:
        node = node[part]
    return node


def _paths(node, prefix=()):
    """Every path into the scenario data (mappings by key, lists by index)."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


PATHS = [p for p in _paths(BASE) if p]
NUMBER_PATHS = [p for p in PATHS if isinstance(_get_base(p), (int, float)) and not isinstance(_get_base(p), bool)]
ITEM_PATHS = [p for p in PATHS if isinstance(p[-1], int)]
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
NUMBERS = (st.sampled_from([0, -1, 1, 0.5, 1e-300, 1e-9, 1e-6, 1e6, 1e9, 1e300, math.inf, -math.inf, math.nan,
                            2**63, 10**30])
           | st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**6, 10**6))
VALUES = (NUMBERS | TEXT | st.just("x" * 100_000) | st.none() | st.booleans()
          | st.lists(st.integers(0, 9), max_size=3) | st.dictionaries(TEXT, st.integers(0, 9), max_size=2))


def _get(data, path):
    for part in path:
        data = data[part]
    return data


@st.composite
def mutation(draw):
    """One change to the scenario data: (description, function applied to a deep copy)."""
    kind = draw(st.sampled_from(["number", "number", "number", "replace", "replace", "delete", "unknown_key",
                                 "duplicate_item", "id_as_list"]))
    if kind in ("number", "replace", "delete"):
        # Numbers mostly go where numbers are meant (a length, a rate, a time), to reach the checks
        # beyond types: finiteness, bounds, overflow and the work estimate.
        path = draw(st.sampled_from(NUMBER_PATHS if kind == "number" else PATHS))
        value = draw(NUMBERS if kind == "number" else VALUES)

        def apply(data):
            parent = _get(data, path[:-1])
            if kind == "delete":
                del parent[path[-1]]
            else:
                parent[path[-1]] = value

        return f"{kind} {path} {value!r:.60}", apply
    if kind == "unknown_key":
        path = draw(st.sampled_from([p for p in PATHS if isinstance(_get(BASE, p), dict)] + [()]))
        key, value = draw(TEXT), draw(VALUES)

        def apply(data):
            _get(data, path)[key] = value

        return f"add {key!r} at {path}", apply
    path = draw(st.sampled_from(ITEM_PATHS))

    def apply(data):
        parent = _get(data, path[:-1])
        item = parent[path[-1]]
        if kind == "duplicate_item":
            parent.append(copy.deepcopy(item))
        elif isinstance(item, dict) and "id" in item:
            item["id"] = [item["id"], "X"]

    return f"{kind} {path}", apply


class _TooSlow(Exception):
    pass


def _alarm(signum, frame):
    raise _TooSlow(f"a command took more than {SECONDS_PER_COMMAND} s")


def _run_cli(args: list[str]) -> tuple[int, str]:
    """(exit status, stderr) of `corridor-sim ARGS` run in-process, within the time bound."""
    err = io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(SECONDS_PER_COMMAND)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = main(args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return status, err.getvalue()


def _assert_clean(status: int, err: str, path: Path) -> None:
    assert status in (0, 2), err
    assert "Traceback" not in err
    if status == 2:
        lines = err.strip().splitlines()
        assert lines, "exit 2 without a message"
        for line in lines:
            assert line.startswith(f"error: {path}"), line


@settings(max_examples=60, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(changes=st.lists(mutation(), min_size=1, max_size=3), cut=st.none() | st.floats(0.05, 0.95))
def test_mutated_scenarios_end_in_exit_0_or_a_located_exit_2(tmp_path_factory, changes, cut):
    """Whatever the mutation, `validate` and a short `run` end in exit 0 or in exit 2 with each error naming the file, in bounded time, never with a traceback."""
    data = copy.deepcopy(BASE)
    for _, apply in changes:
        with contextlib.suppress(KeyError, IndexError, TypeError):  # an earlier change removed the path
            apply(data)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    if cut is not None:  # the file cut short, as by a failed copy
        text = text[: int(len(text) * cut)]
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "mutated.yaml"
    path.write_text(text, encoding="utf-8")
    status, err = _run_cli(["validate", str(path)])
    _assert_clean(status, err, path)
    status_run, err = _run_cli(["run", str(path), "--out", str(folder / "out"), "--jobs", "1", "--replications", "1",
                                "--no-shipments", "--max-work", MAX_WORK])
    if status_run == 2 and "the run would make about" in err:
        assert status == 0  # valid, but too much work: refused before simulating
    _assert_clean(status_run, err, path)
    if status_run == 0:
        assert status == 0 and (folder / "out" / "run.json").is_file()
