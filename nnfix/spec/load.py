"""Loading a spec: YAML with positions, `--set` overrides, validation, compiled user math."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, TypeAdapter, ValidationError

from nnfix.engine.layers import LAYERS
from nnfix.errors import Problem, SpecError, SpecPath, did_you_mean
from nnfix.spec import checks, overrides, source
from nnfix.spec.functions import UserFunction, user_functions
from nnfix.spec.model import Spec
from nnfix.spec.rejoin import rejoin_spec


@dataclass
class LoadedSpec:
    """A valid spec with everything needed to run it."""

    spec: Spec
    source: source.Source
    functions: dict[SpecPath, UserFunction]  # compiled expressions and references, by spec path
    raw: dict  # the mapping as read, overrides applied
    # what nnfix changed in reading it, for the report's header (a re-joined flow list)
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.source.path

    @property
    def base_dir(self) -> Path:
        return self.source.path.resolve().parent

    @property
    def name(self) -> str:
        return self.spec.name or self.source.path.stem


def uses_user_code(loaded: LoadedSpec) -> bool:
    """The spec runs the user's own code (an implementation, or a file.py:function)."""
    return loaded.spec.implementation is not None or any(
        uf.kind == "file" for uf in loaded.functions.values()
    )


def load_spec(path: str | Path, assignments: tuple[str, ...] | list[str] = ()) -> LoadedSpec:
    """Read, override, validate and compile a spec; every problem at once in one InputError."""
    return _load(source.read(Path(path)), assignments)


def load_text(
    text: str, path: str | Path, assignments: tuple[str, ...] | list[str] = ()
) -> LoadedSpec:
    """A spec from YAML text as if it were the file at `path` (its lines and the files it names
    relative to that path): `nnfix fix` diagnoses a fixed spec before, or without, writing it;
    `nnfix diagnose my_net.py` the spec it inferred (SPEC §3.7)."""
    return _load(source.parse(text, Path(path)), assignments)


def _load(src: source.Source, assignments: tuple[str, ...] | list[str]) -> LoadedSpec:
    overrides.apply(src, assignments)
    assert isinstance(src.data, dict)  # source.read refuses anything but a mapping
    notes = rejoin_spec(src.data)  # calls of a flow list YAML split at their commas (§3.2)
    problems: list[Problem] = []
    try:
        spec = Spec.model_validate(src.data)
        sections = {key: getattr(spec, key) for key in Spec.model_fields}
    except ValidationError as exc:
        spec = None
        problems += pydantic_problems(exc, src.data)
        sections = _valid_sections(src.data)  # so the other sections' problems show too
    for key in ("model", "loss"):  # optional only where the user's code is the network (§3.1)
        if key not in src.data and "implementation" not in src.data:
            problems.append(Problem(f"missing required key '{key}' in the spec", path=()))
    if "data" not in src.data and not _script(src.data):  # a script has data of its own
        problems.append(Problem("missing required key 'data' in the spec", path=()))
    problems += checks.check({k: v for k, v in sections.items() if v is not None})
    functions, more = user_functions(src.data, src.path.resolve().parent)
    problems += more
    if problems or spec is None:
        raise SpecError(problems, src)
    return LoadedSpec(
        spec=spec, source=src, functions=functions, raw=copy.deepcopy(src.data), notes=notes
    )


def _script(data: dict) -> bool:
    impl = data.get("implementation")
    return isinstance(impl, dict) and impl.get("script") is True and "model" not in data


def _valid_sections(data: dict) -> dict:
    sections = {}
    for key, field in Spec.model_fields.items():
        if key in data:
            with contextlib.suppress(ValidationError):
                adapter: TypeAdapter = TypeAdapter(field.annotation)  # type: ignore[arg-type]
                sections[key] = adapter.validate_python(data[key])
    return sections


# --- pydantic's errors, as located problems -------------------------------------------------


def _unwrap(annotation) -> list:
    """The model classes an annotation may hold (through Optional, unions and lists)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list):
        return [m for arg in typing.get_args(annotation) for m in _unwrap(arg)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _model_at(path: SpecPath, data=None) -> type[BaseModel] | None:
    """The model class that validates the mapping at `path` (a layer entry's, by its type)."""
    if _layer_entry(path) and data is not None:
        kind = _layer_type(_value_at(data, path))
        return LAYERS[kind].Spec if kind in LAYERS else None
    model: type[BaseModel] | None = Spec
    for part in path:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None
        found = _unwrap(model.model_fields[part].annotation)
        model = found[0] if found else None
    return model


def _walk(data, loc: tuple) -> tuple[SpecPath, tuple]:
    """Split pydantic's loc into the part that exists in the data and the rest (leaving out
    the tag pydantic puts in the path of a layer entry: its type)."""
    path: list = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        elif _layer_entry(path) and part == _layer_type(node):
            continue
        else:
            return tuple(path), tuple(loc[i:])
        path.append(part)
    return tuple(path), ()


def _layer_entry(path: list | SpecPath) -> bool:
    return len(path) == 3 and tuple(path[:2]) == ("model", "layers")


def _layer_type(node) -> str | None:
    """The type of a layer entry as written (default dense)."""
    return node.get("type", "dense") if isinstance(node, dict) else None


def _choices(ctx: dict | None) -> list[str]:
    return re.findall(r"'([^']*)'", str((ctx or {}).get("expected", "")))


def pydantic_problems(exc: ValidationError, data) -> list[Problem]:
    """One problem per offending key, with a did-you-mean where a name is close."""
    grouped: dict[SpecPath, list] = {}
    problems: list[Problem] = []
    for err in exc.errors():
        path, rest = _walk(data, err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            key = rest[0] if rest else path[-1]
            parent = path if rest else path[:-1]
            model = _model_at(parent, data)
            allowed = list(model.model_fields) if model else []
            where = ".".join(str(p) for p in parent if isinstance(p, str)) or "the spec"
            problems.append(
                Problem(
                    f"unknown key '{key}' in {where}"
                    + (f" (allowed: {', '.join(allowed)})" if allowed else ""),
                    path=(*parent, key),
                    hint=did_you_mean(str(key), allowed),
                    on_key=True,
                )
            )
        elif kind == "union_tag_not_found" and _layer_entry(path):
            entry = _value_at(data, path)
            if isinstance(entry, dict):
                message = f"{entry.get('type')!r} is no type: expected one of {', '.join(LAYERS)}"
                problems.append(Problem(message, path=(*path, "type")))
            else:
                message = f"expected a mapping (key: value) such as {{units: 5, activation: tanh}} (got {entry!r})"
                problems.append(Problem(message, path=path))
        elif kind == "union_tag_invalid" and _layer_entry(path):
            written = _value_at(data, path).get("type")
            tag = written if isinstance(written, str) else None
            what = f"unknown layer type '{tag}'" if tag is not None else f"{written!r} is no type"
            problems.append(
                Problem(
                    f"{what}: expected one of {', '.join(LAYERS)}",
                    path=(*path, "type"),
                    hint=did_you_mean(tag, list(LAYERS)) if tag is not None else None,
                )
            )
        elif kind == "missing":
            key = rest[-1] if rest else path[-1]
            where = ".".join(str(p) for p in path if isinstance(p, str)) or "the spec"
            problems.append(Problem(f"missing required key '{key}' in {where}", path=path))
        else:
            grouped.setdefault(path, []).append(err)
    # a misspelt key also shows up as the key it should have been, missing: say it once
    suggested = {(p.path[:-1], p.hint) for p in problems if p.on_key and p.hint}
    problems = [
        p
        for p in problems
        if not (
            p.message.startswith("missing required key")
            and (p.path, f"did you mean '{p.message.split(chr(39))[1]}'?") in suggested
        )
    ]
    for path, errs in grouped.items():
        value = _walk(data, path) and _value_at(data, path)
        choices = [c for e in errs for c in _choices(e.get("ctx"))]
        if choices and isinstance(value, str) and all(e["type"] == "literal_error" for e in errs):
            message = f"unknown value '{value}': expected one of {', '.join(choices)}"
            problems.append(Problem(message, path=path, hint=did_you_mean(value, choices)))
            continue
        messages = list(dict.fromkeys(_message(e) for e in errs))
        if len(messages) > 1:
            message = "expected " + " or ".join(m.removeprefix("expected ") for m in messages)
        else:
            message = messages[0]
        problems.append(
            Problem(
                f"{message} (got {value!r})" if not isinstance(value, dict | list) else message,
                path=path,
            )
        )
    return problems


def _value_at(data, path: SpecPath):
    for part in path:
        data = data[part]
    return data


def _message(err: dict) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected')}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "expected an integer"
    if kind in ("float_parsing", "float_type"):
        return "expected a number"
    if kind in ("string_type",):
        return "expected text"
    if kind in ("list_type",):
        return "expected a list"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "expected a mapping (key: value)"
    if kind == "greater_than":
        return f"expected a number greater than {ctx.get('gt')}"
    if kind == "greater_than_equal":
        return f"expected a number at least {ctx.get('ge')}"
    if kind == "less_than":
        return f"expected a number less than {ctx.get('lt')}"
    if kind == "too_short":
        return f"expected at least {ctx.get('min_length')} item(s)"
    if kind == "too_long":
        return f"expected at most {ctx.get('max_length')} item(s)"
    msg = err["msg"]
    return msg[0].lower() + msg[1:]
