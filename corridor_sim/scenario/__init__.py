"""Scenario files: reading, validating and cross-checking them.

`load_scenario(path)` is the one path from a YAML file to a validated `Scenario`:
read (safe YAML, `extends` merged) -> schema (pydantic, shapes and numbers) -> checks (references).
Every fault found on the way is collected into one `ScenarioError`.
"""

from __future__ import annotations

import difflib
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from corridor_sim.errors import Problem, ScenarioError, shorten
from corridor_sim.scenario.checks import check
from corridor_sim.scenario.loading import format_key_path, locate, plain, read_scenario
from corridor_sim.scenario.schema import Scenario

__all__ = ["Scenario", "load_scenario", "scenario_from_dict"]


def _key_path(loc: tuple) -> tuple:
    out, skip = [], False
    for part in loc:
        if skip:
            skip = False
            continue
        if isinstance(part, str) and part.startswith("~"):
            skip = part == "~spec"  # the next part is the dist name pydantic used as a tag
            continue
        out.append(part)
    return tuple(out)


def _model_at(path: tuple):
    """The pydantic model class that holds the mapping at `path` (for listing allowed keys)."""
    model: Any = Scenario
    for part in path:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = next((f for name, f in model.model_fields.items() if (f.alias or name) == part), None)
        if field is None:
            return None
        model = _unwrap_model(field.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _unwrap_model(annotation):
    plain_class = typing.get_origin(annotation) is None and isinstance(annotation, type)
    if plain_class and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):  # list[X], Optional[X], Annotated[...]: look inside
        inner = _unwrap_model(arg)
        if inner is not None:
            return inner
    return None


def _message(err: dict) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        path = _key_path(err["loc"])
        model = _model_at(path[:-1])
        allowed = [f.alias or n for n, f in model.model_fields.items()] if model else []
        close = difflib.get_close_matches(str(path[-1]), allowed, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown key '{shorten(str(path[-1]), 80)}'{hint}"
    if kind == "missing":
        return "required key is missing"
    msg = msg.removeprefix("Value error, ")
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "literal_error",
                "int_parsing", "float_parsing", "bool_parsing", "int_from_float", "string_type",
                "list_type", "dict_type", "model_type", "too_short", "union_tag_invalid", "finite_number"}:
        got = err.get("input")
        if not isinstance(got, (dict, list)):
            msg += f" (got {shorten(repr(got), 80)})"
    return msg


def scenario_from_dict(data: Any, file: str = "<scenario>") -> Scenario:
    """Validate already-read scenario data (as `read_scenario` returns it).

    Raises:
        ScenarioError: with every shape and cross-reference problem found.
    """
    if not isinstance(data, dict):
        raise ScenarioError([Problem(file, "", "the top level must be a mapping of keys")])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            path = _key_path(err["loc"])
            where, line = locate(data, path, file)
            suffix = f" (line {line})" if line else ""
            problems.append(Problem(where or file, format_key_path(path), _message(err) + suffix))
        raise ScenarioError(problems) from None
    problems = check(scenario, file)
    if problems:
        raise ScenarioError([_with_line(p, data) for p in problems])
    scenario._source_file = file
    scenario._data = plain(data)
    return scenario


def _with_line(problem: Problem, data) -> Problem:
    path = tuple(int(p) if p.isdigit() else p for p in _split(problem.key_path))
    where, line = locate(data, path, problem.file)
    suffix = f" (line {line})" if line else ""
    return Problem(where or problem.file, problem.key_path, problem.message + suffix)


def _split(key_path: str) -> list[str]:
    return [p for p in key_path.replace("[", ".").replace("]", "").split(".") if p]


def load_scenario(path: str | Path) -> Scenario:
    """Read, merge, validate and cross-check a scenario file.

    Args:
        path: the scenario YAML file.

    Returns:
        The validated, frozen Scenario. Its merged data is kept as `scenario_data(scenario)`.

    Raises:
        ScenarioError: every problem found, each naming the file, the key path and the fault.
    """
    data = read_scenario(path)
    return scenario_from_dict(data, str(path))
