"""What the simulator's data models share: pydantic dataclasses that are the schema and the rules.

A model is declared once, with :func:`model`: a frozen pydantic dataclass that refuses
unknown keys, whose fields' types say what a JSON file may hold and whose validators
(field types with an ``AfterValidator``, model validators) carry the simulator's own
rules and messages. The same class is what Python code builds (positionally, by
keyword, with :func:`dataclasses.replace`) and what a file is read into, so a rule
exists in one place (the STYLE's "models once").

A model refuses in the simulator's terms, never with pydantic's ``ValidationError``:
its :meth:`Model.refused` turns the list of :class:`Refusal` (a field path, pydantic's
error type or :data:`RULE`, a message) into the error its callers catch
(``CustomerDataError``, ``ConfigError``, ...), whether the model was built in Python
or read with :meth:`Model.from_json`. A rule refuses with :func:`rule` (one message)
or :func:`refuse` (several, each at its own path, all reported at once).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, Self, TypeVar, dataclass_transform, overload

import pydantic.dataclasses
from pydantic import AfterValidator, AliasChoices, ConfigDict, Field, TypeAdapter, ValidationError, WrapValidator
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_core.core_schema import ValidatorFunctionWrapHandler

#: pydantic's error type of a refusal by one of our rules.
RULE: Final = "fxmlsim_rule"
#: Every model: unknown keys refused; inputs (PINs, passwords) never in pydantic's own texts.
CONFIG: Final = ConfigDict(extra="forbid", hide_input_in_errors=True)

Loc = tuple[int | str, ...]
_T = TypeVar("_T")


@dataclasses.dataclass(frozen=True)
class Refusal:
    """One thing a model refused: where (``loc``, pydantic's path of keys and
    indexes), pydantic's error ``type`` (:data:`RULE` for ours) and its message."""

    loc: Loc
    type: str
    message: str


def rule(message: str) -> PydanticCustomError:
    """A refusal by one of our rules, ``message`` as written (raise it in a validator)."""
    return PydanticCustomError(RULE, message)


def passes(check: Callable[[Any], object], *errors: type[Exception],
           said: Callable[[Any], str] = str) -> AfterValidator:
    """A field's rule that ``check(value)`` states (what it returns is ignored): one of
    ``errors`` raised by it refuses the value, in the words ``said(error)``."""

    def validate(value: _T) -> _T:
        try:
            check(value)
        except errors as error:
            raise rule(said(error)) from None
        return value

    return AfterValidator(validate)


def refused_as(said: Callable[[Any], str]) -> WrapValidator:
    """A field whose own validation (an enumeration's, a literal's, a type's) refuses
    in the words ``said(value)`` instead of pydantic's."""

    def validate(value: object, handler: ValidatorFunctionWrapHandler) -> object:
        try:
            return handler(value)
        except ValidationError:
            raise rule(said(value)) from None

    return WrapValidator(validate)


def refuse(problems: Iterable[tuple[Loc, str]]) -> None:
    """Raise every problem at once, each at its path (relative to the model being
    validated: pydantic prefixes the path of the model within its container);
    nothing when there is none."""
    details = [InitErrorDetails(type=rule(message), loc=loc, input=None) for loc, message in problems]
    if details:
        raise ValidationError.from_exception_data("refused", details)


def refusals(error: ValidationError, positional: Sequence[str] = ()) -> list[Refusal]:
    """pydantic's errors as :class:`Refusal`; a positional argument's index becomes its field's name."""
    found = []
    for item in error.errors(include_url=False, include_input=False):
        loc = tuple(item["loc"])
        first = loc[0] if loc else None
        if isinstance(first, int) and first < len(positional) and item["type"] != "unexpected_positional_argument":
            loc = (positional[first], *loc[1:])
        found.append(Refusal(loc, item["type"], item["msg"]))
    return found


def field_path(loc: Loc, skip: Iterable[str] = ()) -> str:
    """``customers[2].users[0].user_code``: keys joined by dots, indexes in brackets;
    keys in ``skip`` (a discriminated union's tags, which are no fields) and pydantic's
    ``[key]`` (the key of a mapping's entry rather than its value) left out."""
    hidden = set(skip)
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item not in hidden and item != "[key]":
            parts.append(f".{item}" if parts else item)
    return "".join(parts)


def json_keys(kind: type) -> list[str]:
    """The keys a model's JSON may have, in its fields' order (a field's validation alias, if it has one)."""
    fields: dict[str, FieldInfo] = getattr(kind, "__pydantic_fields__", {})
    keys = []
    for name, info in fields.items():
        alias = info.validation_alias
        first = alias.choices[0] if isinstance(alias, AliasChoices) else alias
        keys.append(first if isinstance(first, str) else name)
    return keys


_ADAPTERS: dict[object, TypeAdapter[Any]] = {}


def adapter(kind: Any) -> TypeAdapter[Any]:
    """The pydantic adapter of a model class or type (made once)."""
    found = _ADAPTERS.get(kind)
    if found is None:
        found = _ADAPTERS[kind] = TypeAdapter(kind)
    return found


def parse(kind: Any, data: object, refused: Callable[[list[Refusal]], Exception]) -> Any:
    """``data`` (the result of ``json.loads``) validated as ``kind``; ``refused(...)`` raised otherwise."""
    try:
        return adapter(kind).validate_python(data)
    except ValidationError as error:
        raise refused(refusals(error)) from None


class Model:
    """What every model has: its JSON (:meth:`to_json`, :meth:`from_json`) and its
    refusals in the simulator's terms (:meth:`refused`, which a subclass gives)."""

    @classmethod
    def refused(cls, refusals: list[Refusal]) -> Exception:
        """The error to raise for these refusals."""
        return ValueError("; ".join(f"{field_path(r.loc)}: {r.message}" for r in refusals))

    @classmethod
    def from_json(cls, data: object) -> Self:
        """The model from its JSON (the result of ``json.loads``); :meth:`refused`'s error otherwise."""
        made: Self = parse(cls, data, cls.refused)
        return made

    def to_json(self) -> dict[str, Any]:
        """The model as JSON values (what ``json.dumps`` writes), fields in their declared order."""
        data: dict[str, Any] = adapter(type(self)).dump_python(self, mode="json", by_alias=True)
        return data


def _refusing_init(cls: type[Model]) -> None:
    """Make building ``cls`` raise :meth:`Model.refused`'s error instead of pydantic's."""
    init = cls.__init__
    positional = tuple(f.name for f in dataclasses.fields(cls) if f.init and not f.kw_only)  # type: ignore[arg-type]

    @functools.wraps(init)
    def refusing_init(self: Model, *args: Any, **kwargs: Any) -> None:
        try:
            init(self, *args, **kwargs)
        except ValidationError as error:
            raise cls.refused(refusals(error, positional)) from None

    cls.__init__ = refusing_init  # type: ignore[assignment,method-assign]


@overload
def model(cls: type[_T], /) -> type[_T]: ...
@overload
def model(*, kw_only: bool = False) -> Callable[[type[_T]], type[_T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, Field))
def model(cls: type[_T] | None = None, /, *, kw_only: bool = False) -> Any:
    """Declare a model: ``@model`` or ``@model(kw_only=True)`` on a subclass of :class:`Model`.

    A frozen pydantic dataclass with :data:`CONFIG`, built eagerly validated; building
    it with anything it refuses raises the class's :meth:`Model.refused` error."""

    def declare(cls: type[_T]) -> type[_T]:
        if not issubclass(cls, Model):
            raise TypeError(f"{cls.__name__} must derive from simulator.schema.Model")
        pydantic.dataclasses.dataclass(cls, frozen=True, config=CONFIG, kw_only=kw_only)  # in place
        _refusing_init(cls)
        return cls

    return declare if cls is None else declare(cls)
