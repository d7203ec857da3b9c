"""Reading scenario files: safe YAML, size guards, line numbers and `extends` merging.

YAML is read with PyYAML's safe constructors (no arbitrary Python objects). Every mapping and list
remembers the file and line each of its entries came from, and keeps that memory through `extends`
merging, so an error found later (by the schema or the cross-reference checks) can name the file
that actually holds the faulty key.

Merging rules: mappings merge deeply; lists whose items all carry an `id` merge by id (an item with
`remove: true` deletes the parent's item, an unknown id is appended); any other value replaces the
parent's. A missing parent or a cycle of `extends` is an error, and so is what merging would
otherwise hide: an id that is not a plain value, an id given twice in one file's list, or a
`remove` of an id the parent does not have.

`extends` names one parent or a list of parents. A list is applied in order, later parents over
earlier ones and the child over all: each file of the family contributes its own keys once, after
its own ancestors, so two parents that share a grandparent do not undo each other's changes by
carrying the grandparent's values (a diamond); a chain of single parents merges exactly as before.
Faults in a list are located at its entry, `extends[1]`.

Only regular files of UTF-8 text are read (never more than the size limit, so a device or a /proc
file cannot hang or flood the reader). A parent that is not a scenario file at all (unreadable, not
text, not a mapping, none of a scenario's keys) is reported in the child, at its `extends`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from corridor_sim.errors import Problem, ScenarioError

MAX_FILE_BYTES = 5_000_000
MAX_NODES = 500_000  # YAML nodes after alias expansion: refuses "billion laughs" files
# Lists and mappings inside one another: a scenario needs under ten levels. libyaml's parser has no
# such bound of its own (the pure-Python one runs out of stack near 300).
MAX_DEPTH = 100


class SourceDict(dict):
    """A dict that remembers, per key, the (file, line) it was written at."""

    def __init__(self, *args, origin: tuple[str, int] = ("", 0), **kwargs):
        super().__init__(*args, **kwargs)
        self.origin = origin
        self.lines: dict[Any, tuple[str, int]] = {}


def format_key_path(path: tuple) -> str:
    """A key path as the messages write it: `network.segments[3].length_km`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _problem(file: str, path: tuple, message: str, line: int = 0) -> Problem:
    return Problem(file, format_key_path(path), message + (f" (line {line})" if line else ""))


class SourceList(list):
    """A list that remembers, per index, the (file, line) each item was written at."""

    def __init__(self, *args, origin: tuple[str, int] = ("", 0)):
        super().__init__(*args)
        self.origin = origin
        self.lines: list[tuple[str, int]] = []


_MAP_TAG, _SEQ_TAG = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_SCALAR_TAGS = {*yaml.SafeLoader.yaml_constructors, "tag:yaml.org,2002:merge"}  # `<<` merge keys


def _count_nodes(node: yaml.Node, budget: list[int], stack: set[int] | None = None, path: tuple = ()) -> None:
    """Count values after alias expansion, refusing recursive aliases and non-plain tags."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooLarge()
    if isinstance(node, yaml.ScalarNode):
        if node.tag not in _SCALAR_TAGS:
            raise _Refused(node, f"the tag '{node.tag}' is not allowed (plain YAML values only)", path)
        return
    stack = set() if stack is None else stack
    if id(node) in stack:
        raise _Refused(node, "an alias refers to itself (recursive anchor)", path)
    stack.add(id(node))
    if len(stack) > MAX_DEPTH:
        raise _Refused(node, f"the YAML is nested too deeply (more than {MAX_DEPTH} levels)", path)
    if isinstance(node, yaml.MappingNode):
        _plain_tag(node, _MAP_TAG, path)
        for key, value in node.value:
            _count_nodes(key, budget, stack, path)
            _count_nodes(value, budget, stack, (*path, _key_name(key)))
    else:
        _plain_tag(node, _SEQ_TAG, path)
        for i, item in enumerate(node.value):
            _count_nodes(item, budget, stack, (*path, i))
    stack.discard(id(node))


def _key_name(key_node: yaml.Node):
    return key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"


def _plain_tag(node: yaml.Node, tag: str, path: tuple) -> None:
    # Mappings and lists are built here, not by PyYAML's constructors, so any tag on them
    # (`!!python/object...`, `!!set`, `!!omap`) would otherwise be silently ignored.
    if node.tag != tag:
        raise _Refused(node, f"the tag '{node.tag}' is not allowed (plain YAML values only)", path)


class _TooLarge(Exception):
    pass


class _Refused(Exception):
    def __init__(self, node: yaml.Node, message: str, path: tuple = ()):
        super().__init__(message)
        self.line = node.start_mark.line + 1
        self.path = path


class NotScenarioFile(ScenarioError):
    """The file cannot be a scenario: unreadable, not a regular file, not text, not YAML, empty or not
    a mapping. As a parent, it is the child's `extends` that is wrong, so the error is located there."""


def _construct(node: yaml.Node, file: str, loader: yaml.SafeLoader, path: tuple = ()) -> Any:
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
            key_line = key_node.start_mark.line + 1
            if isinstance(key, (list, dict)):
                raise ScenarioError([_problem(file, path, "a key must be a plain value, not a list or mapping",
                                              key_line)])
            if index >= merged:
                if key in own:
                    raise ScenarioError([_problem(file, (*path, key), f"duplicate key '{key}'", key_line)])
                own.add(key)
            out[key] = _construct(value_node, file, loader, (*path, key))
            out.lines[key] = (file, key_node.start_mark.line + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        out = SourceList(origin=(file, line))
        for i, item in enumerate(node.value):
            out.append(_construct(item, file, loader, (*path, i)))
            out.lines.append((file, item.start_mark.line + 1))
        return out
    if node.tag == "tag:yaml.org,2002:timestamp":
        try:
            return loader.construct_object(node, deep=True)
        except ValueError:  # shaped like a date but no such day (2025-02-30): the schema says where
            return node.value
    return loader.construct_object(node, deep=True)


# libyaml's parser, where PyYAML was built with it, is about ten times as fast as the pure-Python
# one (0.02 against 0.23 s on the base INSTC file) and composes the same nodes, with the same marks.
_CLoader = getattr(yaml, "CSafeLoader", None)


def dump_yaml(data: Any, **options) -> str:
    """`yaml.safe_dump(data, **options)`, by libyaml's emitter where PyYAML has it (the same text,
    about four times as fast: a results folder writes its merged scenario every run)."""
    return yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), **options)


def _parse(text: str, loader: yaml.SafeLoader) -> tuple[yaml.Node | None, yaml.SafeLoader]:
    """The file's root node, and the loader to construct its values with.

    By libyaml if available; a file it refuses is parsed again by the pure-Python loader, so that
    every syntax error is reported in PyYAML's own words (the messages tests and users know)."""
    if _CLoader is not None:
        fast = _CLoader(text)
        try:
            root = fast.get_single_node()
        except yaml.YAMLError:
            fast.dispose()
        else:
            loader.dispose()
            return root, fast
    return loader.get_single_node(), loader


def read_yaml(path: Path) -> Any:
    """Read one YAML file safely, keeping line numbers.

    Raises:
        ScenarioError: the file is missing, too large, not valid YAML, or expands without bound.
    """
    file = str(path)

    def unreadable(message: str, line: int = 0) -> NotScenarioFile:
        return NotScenarioFile([_problem(file, (), message, line)])

    try:
        info = os.stat(path)
    except (OSError, ValueError) as exc:  # ValueError: a NUL character in the path
        raise unreadable(f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise unreadable("cannot read: it is a folder, not a scenario file")
    if not stat.S_ISREG(info.st_mode):
        # A device, pipe or socket could block or never end.
        raise unreadable("cannot read: it is not a regular file (a device, pipe or socket?)")
    if info.st_size > MAX_FILE_BYTES:
        raise unreadable(f"file is {info.st_size} bytes; the limit is {MAX_FILE_BYTES}")
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)  # /proc files report size 0: never read beyond the limit
    except OSError as exc:
        raise unreadable(f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise unreadable(f"file is more than {MAX_FILE_BYTES} bytes, the limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise unreadable(f"not UTF-8 text: byte 0x{raw[exc.start]:02x} cannot be decoded",
                         raw.count(b"\n", 0, exc.start) + 1) from None
    if "\x00" in text:
        raise unreadable("not a text file: it contains NUL bytes", text.count("\n", 0, text.index("\x00")) + 1)
    try:
        loader = yaml.SafeLoader(text)  # checks that every character is one YAML allows
    except yaml.reader.ReaderError as exc:
        raise unreadable(f"not YAML text: character #x{exc.character:04x} is not allowed",
                         text.count("\n", 0, exc.position) + 1) from None
    try:
        root, loader = _parse(text, loader)
        if root is None:
            raise unreadable("the file is empty")
        _count_nodes(root, [MAX_NODES])
        return _construct(root, file, loader)
    except _TooLarge:
        raise ScenarioError(
            [Problem(file, "", f"the YAML expands to more than {MAX_NODES} values (aliases?); refused")]
        ) from None
    except _Refused as exc:
        raise ScenarioError([_problem(file, exc.path, f"{exc}; refused", exc.line)]) from None
    except RecursionError:
        raise ScenarioError([Problem(file, "", "the YAML is nested too deeply; refused")]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        context = exc.context_mark
        started = (f" ({exc.context} started at line {context.line + 1})"
                   if exc.context and context and exc.problem_mark and context.line != mark.line else "")
        raise NotScenarioFile(
            [Problem(file, "", f"YAML syntax error: {where}{exc.problem or exc}{started}")]
        ) from None
    except yaml.YAMLError as exc:
        raise NotScenarioFile([Problem(file, "", f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()


def _is_id_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(i, dict) and "id" in i for i in value)


def _where(item: Any, key: str, fallback: tuple[str, int]) -> tuple[str, int]:
    """(file, line) of an item's key, else of the item."""
    lines = getattr(item, "lines", {})
    return lines.get(key) or getattr(item, "origin", None) or fallback


def _ids(items: list, path: tuple, problems: list[Problem], own_file: bool) -> list:
    """The items' ids, with a problem for each id that is not a plain value and (within one file's
    list, `own_file`) each id given twice; such items get the id None (left out of the merge)."""
    ids, first = [], {}
    for j, item in enumerate(items):
        ident = item["id"]
        file, line = _where(item, "id", ("", 0))
        if isinstance(ident, (list, dict)):
            kind = "list" if isinstance(ident, list) else "mapping"
            problems.append(_problem(file, (*path, j, "id"), f"an id must be a plain value, not a {kind}", line))
            ids.append(None)
            continue
        if own_file and ident in first:
            problems.append(_problem(file, (*path, j, "id"), f"duplicate id '{ident}' in this list "
                                     f"(first at {format_key_path((*path, first[ident]))})", line))
            ids.append(None)
            continue
        first.setdefault(ident, j)
        ids.append(ident)
    return ids


def merge(parent: Any, child: Any, path: tuple = (), problems: list[Problem] | None = None) -> Any:
    """Merge a child scenario's data onto its parent's (see the module docstring for the rules).

    Problems the merge finds (ids that are lists, an id twice in the child, removing an id the parent
    does not have) are appended to `problems`, located in the file that holds them; without a list,
    they are raised at once as a ScenarioError.
    """
    raise_now = problems is None
    problems = [] if problems is None else problems
    out = _merge(parent, child, path, problems)
    if raise_now and problems:
        raise ScenarioError(problems)
    return out


def _merge(parent: Any, child: Any, path: tuple, problems: list[Problem]) -> Any:
    if isinstance(parent, dict) and isinstance(child, dict):
        out = SourceDict(parent, origin=getattr(child, "origin", ("", 0)))
        out.lines = dict(getattr(parent, "lines", {}))
        for key, value in child.items():
            at = (*path, key)
            out[key] = _merge(parent[key], value, at, problems) if key in parent else _strip_remove(value, at, problems)
            if key in getattr(child, "lines", {}):
                out.lines[key] = child.lines[key]
        return out
    if _is_id_list(parent) and _is_id_list(child):
        out = SourceList(origin=getattr(child, "origin", ("", 0)))
        items = list(parent)
        lines = list(getattr(parent, "lines", [("", 0)] * len(parent)))
        index = {ident: i for i, ident in enumerate(_ids(items, path, problems, own_file=False))
                 if ident is not None}
        removed: set[int] = set()
        for j, (item, ident) in enumerate(zip(child, _ids(child, path, problems, own_file=True))):
            line = child.lines[j] if j < len(getattr(child, "lines", [])) else ("", 0)
            if ident is None:
                continue
            if ident in index:
                i = index[ident]
                if item.get("remove") is True:
                    removed.add(i)
                else:
                    items[i] = _merge(items[i], item, (*path, i), problems)
                    lines[i] = line
            elif item.get("remove") is not True:
                index[ident] = len(items)
                items.append(_strip_remove(item, (*path, len(items)), problems))
                lines.append(line)
            else:
                problems.append(_remove_unknown(item, ident, (*path, j), line))
        for i, item in enumerate(items):
            if i not in removed:
                out.append(item)
                out.lines.append(lines[i])
        return out
    return _strip_remove(child, path, problems)


def _remove_unknown(item: Any, ident: Any, path: tuple, line: tuple[str, int]) -> Problem:
    file, at = _where(item, "remove", line)
    return _problem(file, (*path, "remove"), f"cannot remove '{ident}': the parent has no item with this id", at)


def _removes_nothing(problem: Problem) -> bool:
    """Whether a problem is the one `_remove_unknown` makes."""
    return problem.key_path.endswith("remove") and problem.message.startswith("cannot remove '")


def _strip_remove(value: Any, path: tuple, problems: list[Problem]) -> Any:
    # A list the parent does not have: nothing in it can be removed, and its ids must be plain.
    if _is_id_list(value):
        out = SourceList(origin=getattr(value, "origin", ("", 0)))
        for j, (item, ident) in enumerate(zip(value, _ids(value, path, problems, own_file=False))):
            line = value.lines[j] if j < len(getattr(value, "lines", [])) else ("", 0)
            if item.get("remove") is True:
                problems.append(_remove_unknown(item, ident, (*path, j), line))
            else:
                out.append(item)
                out.lines.append(line)
        return out
    return value


def read_scenario(path: str | Path, _seen: tuple[Path, ...] = ()) -> SourceDict:
    """Read a scenario file and everything it `extends`, merged into one mapping.

    `extends` names one parent file or a list of them. With a list, the files are applied in order:
    every ancestor's own keys once, each after its own ancestors, then the later parents' after the
    earlier ones', then this file's; a single parent is the same rule with one entry.

    Raises:
        ScenarioError: a file cannot be read, a parent is missing, or `extends` forms a cycle.
    """
    return _resolve(Path(path), tuple((p, p) for p in _seen))[0]


def _resolve(path: Path, chain: tuple[tuple[Path, Path], ...]) -> tuple[SourceDict, list[tuple[Path, SourceDict]]]:
    """(merged data, lineage): the lineage lists (resolved file, that file's own keys), ancestors first.

    `chain` holds the files being read above this one, as (resolved path, path as first named).
    """
    _seen = tuple(p for p, _ in chain)
    resolved = path.resolve()
    if resolved in _seen:  # a cycle: report it in the file as the user first named it
        path = chain[_seen.index(resolved)][1]
    file = str(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise NotScenarioFile([Problem(file, "", "the top level must be a mapping of keys")])
    line = data.lines.get("extends", (file, 0))[1]
    parent_ref = data.pop("extends", None)
    if parent_ref is None:
        return data, [(resolved, data)]

    def fault(message: str, at: tuple = ("extends",), where: int = line) -> ScenarioError:
        return ScenarioError([_problem(file, at, message, where)])

    if isinstance(parent_ref, list):
        if not parent_ref:
            raise fault("an empty list names no parent: give one file path or a list of them")
        lines = getattr(parent_ref, "lines", [])
        refs = [(("extends", i), ref, lines[i][1] if i < len(lines) else line) for i, ref in enumerate(parent_ref)]
    else:
        refs = [(("extends",), parent_ref, line)]
    if resolved in _seen:
        chain = " -> ".join(str(p.name) for p in (*_seen, resolved))
        # Name the entry through which the cycle runs: the file read after this one on the chain.
        k = _seen.index(resolved)
        onward = _seen[k + 1] if k + 1 < len(_seen) else resolved
        at, _, where = next((r for r in refs if _same_parent(path, r[1], onward)), refs[0])
        raise fault(f"cycle of extends: {chain}", at, where)
    merged: SourceDict | None = None
    lineage: list[tuple[Path, SourceDict]] = []
    seen_refs: dict[Path, str] = {}
    for at, parent_ref, where in refs:
        parent_path = _parent_path(path, parent_ref, lambda m: fault(m, at, where))
        key = parent_path.resolve()
        if key in seen_refs:
            raise fault(f"'{parent_ref}' is listed twice (first as '{seen_refs[key]}')", at, where)
        seen_refs[key] = parent_ref
        try:
            parent, parent_lineage = _resolve(parent_path, (*chain, (resolved, path)))
        except NotScenarioFile as exc:
            # The parent is not a scenario at all: the fault is the child's `extends`.
            reasons = "; ".join(p.message for p in exc.problems if p.file == str(parent_path)) or str(exc)
            raise fault(f"cannot use '{parent_ref}' as a parent; in that file: {reasons}", at, where) from None
        if not set(parent) & _SCENARIO_KEYS:
            raise fault(f"'{parent_ref}' is not a scenario file: it has none of a scenario's keys "
                        f"({', '.join(sorted(_SCENARIO_KEYS))})", at, where)
        if merged is None:  # the first parent, whole (a single parent: exactly the merge of one chain)
            merged, lineage = parent, list(parent_lineage)
            continue
        done = {p for p, _ in lineage}
        for ancestor, own in parent_lineage:  # a later parent: the files of its lineage not yet applied
            if ancestor not in done:
                found: list[Problem] = []
                merged = merge(merged, own, problems=found)
                # Each parent merged cleanly on its own, so a `remove` that now finds nothing removes
                # what an earlier parent already removed: the item is gone either way.
                found = [q for q in found if not _removes_nothing(q)]
                if found:
                    raise ScenarioError(found)
                lineage.append((ancestor, own))
    return merge(merged, data), [*lineage, (resolved, data)]


def _parent_path(path: Path, parent_ref: Any, fault) -> Path:
    """The parent file an `extends` entry names, relative to the child's folder."""
    if not isinstance(parent_ref, str) or not parent_ref.strip():
        raise fault("must be a file path or a list of file paths")
    parent_path = path.parent / parent_ref
    try:
        exists = parent_path.exists()
    except (OSError, ValueError) as exc:  # a NUL in the path, a name too long
        raise fault(f"cannot use '{parent_ref}' as a parent: {exc}") from None
    if not exists:
        raise fault(f"parent file '{parent_ref}' not found (looked for {parent_path})")
    return parent_path


def _same_parent(path: Path, parent_ref: Any, target: Path) -> bool:
    try:
        return isinstance(parent_ref, str) and (path.parent / parent_ref).resolve() == target
    except (OSError, ValueError):
        return False


_SCENARIO_KEYS = {"name", "description", "simulation", "network", "services", "demand", "disruptions", "costs"}


def locate(data: Any, key_path: tuple, default_file: str) -> tuple[str, int]:
    """The (file, line) where the value at key_path was written, as near as can be told (for a
    missing top-level key, the line the file's mapping starts at)."""
    node, found = data, getattr(data, "origin", None) or (default_file, 0)
    if not found[0]:
        found = (default_file, found[1])
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
