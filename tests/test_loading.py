"""Reading scenario files: safe YAML, size guards, line numbers and `extends` merging."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from corridor_sim import ScenarioError, load_scenario
from corridor_sim.scenario import loading
from corridor_sim.scenario.loading import MAX_FILE_BYTES, plain, read_scenario

HERE = Path(__file__).parent / "scenarios"
EXAMPLE = HERE / "example.yaml"
EXTENDS = HERE / "extends"

MINIMAL = """\
name: minimal
network:
  nodes:
    - {id: A, kind: city, lon: 0, lat: 0}
"""


def problems_of(path) -> list:
    """The problems load_scenario reports for a file (failing the test if it loads)."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return info.value.problems


def same_file(a, b) -> bool:
    """Whether two paths name the same file (the loader keeps paths such as `bad/../x.yaml`)."""
    return Path(a).resolve() == Path(b).resolve()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------- plain loading


def test_example_loads():
    """The complete example in tests/scenarios/example.yaml loads with every item in it."""
    scenario = load_scenario(EXAMPLE)
    assert scenario.name == "Example corridor"
    assert [n.id for n in scenario.network.nodes] == ["PORT_A", "HUB", "END_RAIL", "GAUGE", "BORDER", "CITY", "ORIGIN"]
    assert [s.id for s in scenario.network.segments] == ["SEA", "RAIL1", "RAIL2", "ROAD", "RAIL3", "RAIL4"]
    assert [s.id for s in scenario.services] == ["FEEDER", "IR_TRAIN", "RU_TRAIN"]
    assert [f.id for f in scenario.demand] == ["A-CITY", "CITY-HUB"]
    assert [d.id for d in scenario.disruptions] == ["border-slow", "winter"]
    assert scenario.simulation.horizon_days == 120 and scenario.simulation.seed == 7
    assert scenario.source_file == str(EXAMPLE)


def test_minimal_file_gets_defaults(tmp_path):
    """A file with only a name and one node loads, every other key taking its documented default."""
    scenario = load_scenario(write(tmp_path, "min.yaml", MINIMAL))
    assert scenario.simulation.horizon_days == 365 and scenario.simulation.warmup_days == 30
    assert scenario.simulation.replications == 5 and scenario.simulation.seed == 1
    assert scenario.services == [] and scenario.demand == [] and scenario.disruptions == []
    assert scenario.node("A").gauge_change is False and scenario.node("A").handling is None


def test_yaml_syntax_error_reports_its_line(tmp_path):
    """A YAML syntax error is one problem naming the file and the line of the fault."""
    path = write(tmp_path, "syntax.yaml", "name: x\nnetwork:\n  nodes: [A, B\n  segments: []\n")
    [problem] = problems_of(path)
    assert problem.file == str(path)
    assert "YAML syntax error" in problem.message
    assert "line 4" in problem.message  # where the parser noticed
    assert "started at line 3" in problem.message  # where the unclosed list began


@pytest.mark.parametrize(
    "value",
    [
        '!!python/object/apply:os.system ["touch {sentinel}"]',
        '!!python/object/apply:os.system "touch {sentinel}"',
        "!!python/object/new:pathlib.Path ['{sentinel}']",
        "!!python/name:os.system",
        "!!python/object:argparse.Namespace {{x: 1}}",
    ],
)
def test_python_tags_are_refused_not_executed(tmp_path, value):
    """A `!!python/...` tag anywhere is an error naming its line, and nothing in it is run."""
    sentinel = tmp_path / "executed"
    text = MINIMAL + "description: " + value.format(sentinel=sentinel) + "\n"
    path = write(tmp_path, "evil.yaml", text)
    [problem] = problems_of(path)
    assert problem.file == str(path)
    assert "python/" in problem.message and "not allowed" in problem.message
    assert "line 5" in problem.message
    assert not sentinel.exists()


def test_alias_bomb_is_refused_quickly():
    """A "billion laughs" file (aliases nested to expand to 9**9 values) is refused without expanding it."""
    start = time.perf_counter()
    [problem] = problems_of(HERE / "bad" / "billion_laughs.yaml")
    assert time.perf_counter() - start < 5
    assert "expands to more than" in problem.message and "refused" in problem.message


def test_recursive_alias_is_refused(tmp_path):
    """An anchor whose value contains an alias to itself is an error, not a crash."""
    path = write(tmp_path, "loop.yaml", MINIMAL + "description: &loop [1, *loop]\n")
    [problem] = problems_of(path)
    assert "recursive" in problem.message and "line 5" in problem.message


def test_deep_nesting_is_refused(tmp_path):
    """A value nested hundreds of levels deep is an error, not a RecursionError traceback."""
    path = write(tmp_path, "deep.yaml", MINIMAL + "description: " + "[" * 600 + "]" * 600 + "\n")
    [problem] = problems_of(path)
    assert "nested too deeply" in problem.message


def test_ordinary_anchors_and_merge_keys_still_load(tmp_path):
    """Anchors, aliases and `<<` merge keys (keys written beside `<<` override merged ones) load normally."""
    text = """\
name: anchors
network:
  nodes:
    - &city {id: A, kind: city, lon: 0, lat: 0}
    - &b {<<: *city, id: B, lon: 1}
    - {<<: *b, id: C, lat: 2}
  segments:
    - &road {id: AB, from: A, to: B, mode: road, length_km: 10, speed_kmh: 50}
    - {<<: *road, id: BA, from: B, to: A}
"""
    scenario = load_scenario(write(tmp_path, "anchors.yaml", text))
    assert [(n.id, n.kind, n.lon, n.lat) for n in scenario.network.nodes] == [
        ("A", "city", 0, 0), ("B", "city", 1, 0), ("C", "city", 1, 2)]
    assert [(s.id, s.from_, s.to, s.length_km) for s in scenario.network.segments] == [
        ("AB", "A", "B", 10), ("BA", "B", "A", 10)]


def test_oversize_file_is_refused(tmp_path):
    """A file larger than the size limit is refused before it is parsed, with its size and the limit."""
    path = tmp_path / "huge.yaml"
    with path.open("w", encoding="utf-8") as out:
        out.write(MINIMAL)
        line = "# " + "x" * 98 + "\n"
        out.write(line * (MAX_FILE_BYTES // len(line) + 1))
    [problem] = problems_of(path)
    assert problem.file == str(path)
    assert str(MAX_FILE_BYTES) in problem.message and str(path.stat().st_size) in problem.message


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing but a comment\n"])
def test_empty_file_is_an_error(tmp_path, text):
    """A file with no YAML content is reported as empty."""
    path = write(tmp_path, "empty.yaml", text)
    [problem] = problems_of(path)
    assert problem.file == str(path) and "empty" in problem.message


def test_duplicate_top_level_key_is_an_error(tmp_path):
    """A key given twice in one mapping is an error naming the key and the line of the repeat."""
    path = write(tmp_path, "dup.yaml", MINIMAL + "name: again\n")
    [problem] = problems_of(path)
    assert "duplicate key 'name'" in problem.message and "line 5" in problem.message


def test_duplicate_nested_key_is_an_error(tmp_path):
    """A key repeated inside a nested mapping is caught too (YAML itself would keep the last one)."""
    text = MINIMAL.replace("lat: 0}", "lat: 0, lon: 5}")
    path = write(tmp_path, "dup.yaml", text)
    [problem] = problems_of(path)
    assert "duplicate key 'lon'" in problem.message and "line 4" in problem.message


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_top_level_must_be_a_mapping(tmp_path, text):
    """A file whose top level is a list or a scalar is an error, not a crash."""
    path = write(tmp_path, "list.yaml", text)
    [problem] = problems_of(path)
    assert problem.file == str(path) and "top level must be a mapping" in problem.message


def test_missing_file_is_an_error(tmp_path):
    """Loading a file that does not exist is a ScenarioError naming the file."""
    path = tmp_path / "nowhere.yaml"
    [problem] = problems_of(path)
    assert problem.file == str(path) and "cannot read" in problem.message


# ---------------------------------------------------------------------------------- extends


def test_child_states_only_differences():
    """A child that lists no nodes, flows or costs still gets all of its parent's."""
    child_text = (EXTENDS / "child.yaml").read_text()
    assert "A-C" not in child_text and "BC" not in child_text
    child = load_scenario(EXTENDS / "child.yaml")
    assert child.name == "Child corridor"
    assert child.description == "the parent"
    assert [f.id for f in child.demand] == ["A-C"]
    assert child.simulation.horizon_days == 100 and child.simulation.replications == 4
    assert "extends" not in child.data()


def test_mappings_merge_deeply():
    """A child's mapping changes only the keys it names, at any depth."""
    child = load_scenario(EXTENDS / "child.yaml")
    assert (child.simulation.seed, child.simulation.horizon_days, child.simulation.warmup_days) == (11, 100, 10)
    assert child.costs.road.usd_per_teu_km == 2.0 and child.costs.road.co2_kg_per_teu_km == 0.9
    assert child.costs.rail.usd_per_teu_km == 0.5
    handling = child.node("A").handling  # {servers: 5} inside a list item merged by id
    assert (handling.servers, handling.time_h, handling.cost_usd_per_teu) == (5, 4, 10)


def test_id_lists_merge_by_id():
    """In lists of items with `id`: an update keeps the item's other keys, `remove: true` deletes, a new id is appended."""
    child = load_scenario(EXTENDS / "child.yaml")
    segments = {s.id: s for s in child.network.segments}
    assert list(segments) == ["AB", "BC", "AC-road", "CD"]
    ab = segments["AB"]
    assert (ab.speed_kmh, ab.length_km, ab.gauge_mm, ab.capacity_per_day, ab.from_, ab.to) == (80, 100, 1435, 10, "A", "B")
    assert [n.id for n in child.network.nodes] == ["A", "B", "C", "D"]
    assert [d.id for d in child.disruptions] == ["strike"]


def test_other_values_replace():
    """Scalars and lists of plain values (a service's stops) replace the parent's whole."""
    parent = load_scenario(EXTENDS / "parent.yaml")
    child = load_scenario(EXTENDS / "child.yaml")
    assert parent.services[0].stops == ["A", "B", "C"]
    assert child.services[0].stops == ["A", "B"]
    assert child.services[0].capacity_teu == 80
    assert parent.name == "Parent corridor" and child.name == "Child corridor"


def test_extends_chains_through_several_files():
    """A grandchild merges onto the child merged onto the parent, and may remove what the child added."""
    grandchild = load_scenario(EXTENDS / "grandchild.yaml")
    assert grandchild.name == "Child corridor" and grandchild.description == "the grandchild"
    assert [s.id for s in grandchild.network.segments] == ["AB", "BC", "AC-road"]
    assert grandchild.network.segments[0].speed_kmh == 80


def test_extends_is_relative_to_the_child_file(tmp_path, monkeypatch):
    """The parent path is resolved from the child's folder, whatever the working directory."""
    monkeypatch.chdir(tmp_path)
    child = write(tmp_path, "sub.yaml", f"extends: {EXTENDS.resolve() / 'parent.yaml'}\nname: absolute\n")
    assert load_scenario(child).name == "absolute"
    nested = tmp_path / "deeper"
    nested.mkdir()
    (nested / "parent.yaml").write_text((EXTENDS / "parent.yaml").read_text())
    write(nested, "kid.yaml", "extends: parent.yaml\nname: relative\n")
    assert load_scenario(Path("deeper") / "kid.yaml").name == "relative"


def test_missing_parent_names_child_and_extends():
    """A parent that does not exist is an error in the child file at key `extends`, naming the parent."""
    path = EXTENDS / "missing_parent.yaml"
    [problem] = problems_of(path)
    assert problem.file == str(path)
    assert problem.key_path == "extends"
    assert "no_such_parent.yaml" in problem.message and "not found" in problem.message


def test_extends_cycle_is_an_error():
    """Two files extending each other (a -> b -> a) are an error at `extends` showing the cycle."""
    [problem] = problems_of(EXTENDS / "cycle_a.yaml")
    assert problem.key_path == "extends"
    assert same_file(problem.file, EXTENDS / "cycle_a.yaml")
    assert "cycle" in problem.message
    assert "cycle_a.yaml -> cycle_b.yaml -> cycle_a.yaml" in problem.message


def test_file_extending_itself_is_a_cycle():
    """A file whose `extends` names itself is a cycle, not an endless loop."""
    [problem] = problems_of(EXTENDS / "self_cycle.yaml")
    assert problem.key_path == "extends" and "cycle" in problem.message


def test_extends_must_be_a_path(tmp_path):
    """An `extends` that is neither a file path nor a list of them (here a mapping) is an error at key `extends`."""
    path = write(tmp_path, "odd.yaml", "extends: {file: a.yaml}\nname: odd\n")
    [problem] = problems_of(path)
    assert problem.key_path == "extends" and "file path" in problem.message


# ------------------------------------------------------------------------- extends: a list


def test_extends_list_later_parent_overrides_earlier():
    """With `extends: [left, right]` right's values override left's and the child's override both; reversed, left's win."""
    both = load_scenario(EXTENDS / "both.yaml")
    reversed_ = load_scenario(EXTENDS / "both_reversed.yaml")
    ab, ab_reversed = both.network.segments[0], reversed_.network.segments[0]
    assert (ab.id, ab.speed_kmh, ab.capacity_per_day) == ("AB", 70, 20)  # right's speed, the child's capacity
    assert (ab_reversed.speed_kmh, ab_reversed.capacity_per_day) == (90, 10)  # left's speed, the grandparent's
    assert (both.name, reversed_.name) == ("Right corridor", "Left corridor")
    assert both.description == reversed_.description == "the right parent"  # only right sets it


def test_extends_list_merges_items_by_id_across_parents():
    """Two parents that change different keys of the same node (by id) both keep their change, neither
    undoes the other's with the grandparent's values they share, and both may remove the same item."""
    for name in ("both.yaml", "both_reversed.yaml"):
        scenario = load_scenario(EXTENDS / name)
        handling = scenario.node("A").handling
        assert (handling.servers, handling.time_h, handling.cost_usd_per_teu) == (7, 9, 10)  # left, right, grandparent
        assert [n.id for n in scenario.network.nodes] == ["A", "B", "C", "E"]
        assert [d.id for d in scenario.disruptions] == ["storm", "left-works"]  # both removed the strike


def test_extends_list_of_one_is_the_single_parent(tmp_path):
    """`extends: [parent.yaml]` gives the same merged data as `extends: parent.yaml`."""
    single = read_scenario(EXTENDS / "child.yaml")
    (tmp_path / "parent.yaml").write_text((EXTENDS / "parent.yaml").read_text())
    text = (EXTENDS / "child.yaml").read_text().replace("extends: parent.yaml", "extends: [parent.yaml]")
    listed = read_scenario(write(tmp_path, "child_as_list.yaml", text))
    assert "[parent.yaml]" in text and plain(listed) == plain(single)


def test_extends_list_cycle_is_located_at_the_entry():
    """A cycle through the second entry of a list is an error at `extends[1]` with that entry's line and the chain."""
    [problem] = problems_of(HERE / "bad" / "extends_list_cycle.yaml")
    assert same_file(problem.file, HERE / "bad" / "extends_list_cycle.yaml")
    assert problem.key_path == "extends[1]" and "(line 4)" in problem.message
    assert "extends_list_cycle.yaml -> list_cycle_back.yaml -> extends_list_cycle.yaml" in problem.message


@pytest.mark.parametrize("text, message", [
    ("extends: []\nname: empty\n", "an empty list names no parent"),
    ("extends: [parent.yaml, 3]\nname: number\n", "must be a file path"),
    ("extends: [parent.yaml, ./parent.yaml]\nname: twice\n", "listed twice"),
])
def test_extends_list_faults(tmp_path, text, message):
    """An empty list, an entry that is not a path and a parent listed twice are errors at `extends` or its entry."""
    (tmp_path / "parent.yaml").write_text((EXTENDS / "parent.yaml").read_text())
    [problem] = problems_of(write(tmp_path, "odd.yaml", text))
    assert problem.key_path == ("extends" if "[]" in text else "extends[1]") and message in problem.message


def test_merged_data_remembers_each_key_origin():
    """After merging, each key knows the file and line it was written at (child over parent)."""
    data = read_scenario(EXTENDS / "child.yaml")
    assert same_file(data.lines["name"][0], EXTENDS / "child.yaml")
    assert same_file(data.lines["demand"][0], EXTENDS / "parent.yaml")
    ab = data["network"]["segments"][0]
    assert same_file(ab.lines["speed_kmh"][0], EXTENDS / "child.yaml")
    assert same_file(ab.lines["length_km"][0], EXTENDS / "parent.yaml")
    assert ab.lines["length_km"][1] == 11  # the line of AB in parent.yaml


def test_shape_errors_name_the_file_that_holds_the_key():
    """Schema errors in keys the child wrote name the child; in keys it inherited, the parent."""
    problems = problems_of(EXTENDS / "faulty_child.yaml")
    found = {p.key_path: p for p in problems}
    assert set(found) == {"simulation.replications", "network.segments[0].length_km", "network.segments[0].speed_kmh"}
    assert same_file(found["simulation.replications"].file, EXTENDS / "faulty_child.yaml")
    assert "(line 3)" in found["simulation.replications"].message
    assert same_file(found["network.segments[0].speed_kmh"].file, EXTENDS / "faulty_child.yaml")
    assert "(line 6)" in found["network.segments[0].speed_kmh"].message
    # the same segment item, but a key the child did not touch: the parent's file and line
    assert same_file(found["network.segments[0].length_km"].file, EXTENDS / "faulty_parent.yaml")
    assert "(line 8)" in found["network.segments[0].length_km"].message


def test_reference_errors_name_the_file_that_holds_the_key():
    """Cross-reference errors are located the same way: the child's own flow in the child, the inherited disruption in the parent."""
    problems = problems_of(EXTENDS / "refs_child.yaml")
    found = {p.key_path: p for p in problems}
    assert set(found) == {"demand[0].destination", "disruptions[0].target"}
    assert same_file(found["demand[0].destination"].file, EXTENDS / "refs_child.yaml")
    assert "unknown node 'Z'" in found["demand[0].destination"].message
    assert same_file(found["disruptions[0].target"].file, EXTENDS / "refs_parent.yaml")
    assert "'ABX'" in found["disruptions[0].target"].message and "(line 10)" in found["disruptions[0].target"].message


def _values_and_lines(tree):
    """A read file's values with the (file, line) of every mapping key and list item, for comparing."""
    if isinstance(tree, dict):
        return {k: (_values_and_lines(v), tree.lines.get(k)) for k, v in tree.items()}, tree.origin
    if isinstance(tree, list):
        return [(_values_and_lines(v), line) for v, line in zip(tree, tree.lines)], tree.origin
    return tree


@pytest.mark.skipif(loading._CLoader is None, reason="PyYAML built without libyaml")
@pytest.mark.parametrize("path", sorted((Path(__file__).parent.parent / "scenarios").glob("*.yaml")) + [EXAMPLE],
                         ids=lambda p: p.name)
def test_libyaml_and_pure_python_parsers_read_the_same(path, monkeypatch):
    """libyaml's parser gives the same values and the same line of every key as PyYAML's pure-Python one."""
    fast = loading.read_yaml(path)
    monkeypatch.setattr(loading, "_CLoader", None)
    slow = loading.read_yaml(path)
    assert _values_and_lines(fast) == _values_and_lines(slow)
    assert fast.origin == slow.origin and len(fast) > 3


def test_nesting_limit_is_the_same_for_both_parsers(tmp_path, monkeypatch):
    """A file nested just past MAX_DEPTH is refused by either parser with the line of the offending value."""
    depth = loading.MAX_DEPTH
    ok = write(tmp_path, "ok.yaml", "deep: " + "[" * (depth - 1) + "]" * (depth - 1) + "\n")
    deep = write(tmp_path, "deep.yaml", "deep: " + "[" * depth + "]" * depth + "\n")
    for parser in (loading._CLoader, None):
        monkeypatch.setattr(loading, "_CLoader", parser)
        value, levels = loading.read_yaml(ok)["deep"], 1
        while value:
            value, levels = value[0], levels + 1
        assert value == [] and levels == depth - 1  # read whole: the file's mapping and depth - 1 lists
        with pytest.raises(ScenarioError) as info:
            loading.read_yaml(deep)
        [problem] = info.value.problems
        assert "nested too deeply" in problem.message and "line 1" in problem.message
