"""One error root per side: what the engine raises on purpose is an
:class:`~fxml.errors.FxmlError`, what the simulator raises a
:class:`~simulator.errors.SimulatorError`, so the CLI catches two classes
and treats anything else as a bug."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import fxml
import simulator
from fxml.card.apdu import MalformedApduError
from fxml.card.errors import InvalidPinFormatError
from fxml.clock import ClockError
from fxml.errors import FxmlError
from simulator.card.image import ImageSyncError
from simulator.card.profile import ProfileError
from simulator.errors import SimulatorError

#: Errors not yet under their root (none).
PENDING: set[str] = set()


def error_classes(package: object) -> list[type[BaseException]]:
    found = []
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):  # type: ignore[attr-defined]
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value) and issubclass(value, BaseException)
                and value.__module__ == module.__name__ and not name.startswith("_")
            ):
                found.append(value)
    return found


@pytest.mark.parametrize(
    ("package", "root"), [(fxml, FxmlError), (simulator, SimulatorError)], ids=["fxml", "simulator"]
)
def test_every_error_derives_from_its_sides_root(package: object, root: type[Exception]) -> None:
    classes = error_classes(package)
    assert len(classes) > 5
    strays = [f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, root)]
    assert sorted(set(strays) - PENDING) == []


def test_the_roots_keep_the_builtin_bases_callers_catch() -> None:
    assert issubclass(ClockError, ValueError) and issubclass(MalformedApduError, ValueError)
    assert issubclass(InvalidPinFormatError, ValueError) and issubclass(ProfileError, ValueError)
    error = ImageSyncError(5, "folder not synced")
    assert isinstance(error, OSError) and error.errno == 5 and isinstance(error, SimulatorError)
