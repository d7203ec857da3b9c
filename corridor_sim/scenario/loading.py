"""Reading scenario files: safe YAML, size guards, line numbers and `extends` merging.

YAML is read with PyYAML's safe constructors (no arbitrary Python objects). Every mapping and list
remembers the file and line each of its entries came from, and keeps that memory through `extends`
merging, so an error found later (by the schema or the cross-reference checks) can name the file
that actually holds the faulty key.

Merging rules: mappings merge deeply; lists whose items all carry an `id` merge by id (an item with
`remove: true` deletes the parent's item, an unknown id is appended); any other value replaces the
parent's. A missing parent or a cycle of `extends` is an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from corridor_sim.errors import Problem, ScenarioError

MAX_FILE_BYTES = 5_000_000
MAX_NODES = 500_000  # YAML nodes after alias expansion: refuses "billion laughs" files


class SourceDict(dict):
    """A dict that remembers, per key, the (file, line) it was written at."""

    def __init__(self, *args, origin: tuple[str, int] = ("", 0), **kwargs):
        super().__init__(*args, **kwargs)
        self.origin = origin
        self.lines: dict[Any, tuple[str, int]] = {}


class SourceList(list):
    """A list that remembers, per index, the (file, line) each item was written at."""

    def __init__(self, *args, origin: tuple[str, int] = ("", 0)):
        super().__init__(*args)
        self.origin = origin
        self.lines: list[tuple[str, int]] = []


_MAP_TAG, _SEQ_TAG = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_SCALAR_TAGS = {*yaml.SafeLoader.yaml_constructors, "tag:yaml.org,2002:merge"}  # `<<` merge keys


def _count_nodes(node: yaml.Node, budget: list[int], stack: set[int] | None = None) -> None:
    """Count values after alias expansion, refusing recursive aliases and non-plain tags."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooLarge()
    if isinstance(node, yaml.ScalarNode):
        if node.tag not in _SCALAR_TAGS:
            raise _Refused(node, f"the tag '{node.tag}' is not allowed (plain YAML values only)")
        return
    stack = set() if stack is None else stack
    if id(node) in stack:
        raise _Refused(node, "an alias refers to itself (recursive anchor)")
    stack.add(id(node))
    if isinstance(node, yaml.MappingNode):
        _plain_tag(node, _MAP_TAG)
        for key, value in node.value:
            _count_nodes(key, budget, stack)
            _count_nodes(value, budget, stack)
    else:
        _plain_tag(node, _SEQ_TAG)
        for item in node.value:
            _count_nodes(item, budget, stack)
    stack.discard(id(node))


def _plain_tag(node: yaml.Node, tag: str) -> None:
    # Mappings and lists are built here, not by PyYAML's constructors, so any tag on them
    # (`!!python/object...`, `!!set`, `!!omap`) would otherwise be silently ignored.
    if node.tag != tag:
        raise _Refused(node, f"the tag '{node.tag}' is not allowed (plain YAML values only)")


class _TooLarge(Exception):
    pass


class _Refused(Exception):
    def __init__(self, node: yaml.Node, message: str):
        super().__init__(message)
        self.line = node.start_mark.line + 1


def _construct(node: yaml.Node, file: str, loader: yaml.SafeLoader) -> Any:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        merged = getattr(node, "merged_pairs", None)  # set once: an aliased node is built again
        if merged is None:
            written = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
            loader.flatten_mapping(node)  # puts the pairs of `<<` merge keys first
            merged = node.merged_pairs = len(node.value) - written  # keys written here override these
        out = SourceDict(origin=(file, line))
        own: set = set()
        for index, (key_node, value_node) in enumerate(node.value):
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, (list, dict)):
                raise ScenarioError([Problem(file, "", f"line {key_node.start_mark.line + 1}: a key must be a plain value")])
            if index >= merged:
                if key in own:
                    raise ScenarioError(
                        [Problem(file, "", f"line {key_node.start_mark.line + 1}: duplicate key '{key}'")]
                    )
                own.add(key)
            out[key] = _construct(value_node, file, loader)
            out.lines[key] = (file, key_node.start_mark.line + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        out = SourceList(origin=(file, line))
        for item in node.value:
            out.append(_construct(item, file, loader))
            out.lines.append((file, item.start_mark.line + 1))
        return out
    if node.tag == "tag:yaml.org,2002:timestamp":
        try:
            return loader.construct_object(node, deep=True)
        except ValueError:  # shaped like a date but no such day (2025-02-30): the schema says where
            return node.value
    return loader.construct_object(node, deep=True)


def read_yaml(path: Path) -> Any:
    """Read one YAML file safely, keeping line numbers.

    Raises:
        ScenarioError: the file is missing, too large, not valid YAML, or expands without bound.
    """
    file = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ScenarioError([Problem(file, "", f"cannot read: {exc.strerror or exc}")]) from None
    if size > MAX_FILE_BYTES:
        raise ScenarioError([Problem(file, "", f"file is {size} bytes; the limit is {MAX_FILE_BYTES}")])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([Problem(file, "", f"cannot read: {exc}")]) from None
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise ScenarioError([Problem(file, "", "the file is empty")])
        _count_nodes(root, [MAX_NODES])
        return _construct(root, file, loader)
    except _TooLarge:
        raise ScenarioError(
            [Problem(file, "", f"the YAML expands to more than {MAX_NODES} values (aliases?); refused")]
        ) from None
    except _Refused as exc:
        raise ScenarioError([Problem(file, "", f"line {exc.line}: {exc}; refused")]) from None
    except RecursionError:
        raise ScenarioError([Problem(file, "", "the YAML is nested too deeply; refused")]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        context = exc.context_mark
        started = (f" ({exc.context} started at line {context.line + 1})"
                   if exc.context and context and exc.problem_mark and context.line != mark.line else "")
        raise ScenarioError(
            [Problem(file, "", f"YAML syntax error: {where}{exc.problem or exc}{started}")]
        ) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(file, "", f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()


def _is_id_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(i, dict) and "id" in i for i in value)


def merge(parent: Any, child: Any) -> Any:
    """Merge a child scenario's data onto its parent's (see the module docstring for the rules)."""
    if isinstance(parent, dict) and isinstance(child, dict):
        out = SourceDict(parent, origin=getattr(child, "origin", ("", 0)))
        out.lines = dict(getattr(parent, "lines", {}))
        for key, value in child.items():
            out[key] = merge(parent[key], value) if key in parent else _strip_remove(value)
            if key in getattr(child, "lines", {}):
                out.lines[key] = child.lines[key]
        return out
    if _is_id_list(parent) and _is_id_list(child):
        out = SourceList(origin=getattr(child, "origin", ("", 0)))
        items = list(parent)
        lines = list(getattr(parent, "lines", [("", 0)] * len(parent)))
        index = {item["id"]: i for i, item in enumerate(items)}
        removed: set[int] = set()
        for j, item in enumerate(child):
            line = child.lines[j] if j < len(getattr(child, "lines", [])) else ("", 0)
            if item["id"] in index:
                i = index[item["id"]]
                if item.get("remove") is True:
                    removed.add(i)
                else:
                    items[i] = merge(items[i], item)
                    lines[i] = line
            elif item.get("remove") is not True:
                index[item["id"]] = len(items)
                items.append(_strip_remove(item))
                lines.append(line)
        for i, item in enumerate(items):
            if i not in removed:
                out.append(item)
                out.lines.append(lines[i])
        return out
    return _strip_remove(child)


def _strip_remove(value: Any) -> Any:
    if _is_id_list(value):
        out = SourceList(origin=getattr(value, "origin", ("", 0)))
        for j, item in enumerate(value):
            if item.get("remove") is not True:
                out.append(item)
                out.lines.append(value.lines[j] if j < len(getattr(value, "lines", [])) else ("", 0))
        return out
    return value


def read_scenario(path: str | Path, _seen: tuple[Path, ...] = ()) -> SourceDict:
    """Read a scenario file and everything it `extends`, merged into one mapping.

    Raises:
        ScenarioError: a file cannot be read, a parent is missing, or `extends` forms a cycle.
    """
    path = Path(path)
    resolved = path.resolve()
    if resolved in _seen:
        chain = " -> ".join(str(p.name) for p in (*_seen, resolved))
        raise ScenarioError([Problem(str(path), "extends", f"cycle of extends: {chain}")])
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ScenarioError([Problem(str(path), "", "the top level must be a mapping of keys")])
    parent_ref = data.pop("extends", None)
    if parent_ref is None:
        return data
    if not isinstance(parent_ref, str):
        raise ScenarioError([Problem(str(path), "extends", "must be a file path")])
    parent_path = path.parent / parent_ref
    if not parent_path.is_file():
        raise ScenarioError([Problem(str(path), "extends", f"parent file '{parent_ref}' not found (looked for {parent_path})")])
    parent = read_scenario(parent_path, (*_seen, resolved))
    return merge(parent, data)


def locate(data: Any, key_path: tuple, default_file: str) -> tuple[str, int]:
    """The (file, line) where the value at key_path was written, as near as can be told."""
    node, found = data, (default_file, 0)
    for part in key_path:
        lines = getattr(node, "lines", None)
        try:
            if isinstance(node, dict) and part in node:
                if lines and part in lines:
                    found = lines[part]
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                if lines and part < len(lines):
                    found = lines[part]
                node = node[part]
            else:
                break
        except TypeError:
            break
    return found


def plain(data: Any) -> Any:
    """The merged data as plain dicts and lists (for writing the merged scenario back out)."""
    if isinstance(data, dict):
        return {k: plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [plain(v) for v in data]
    return data
