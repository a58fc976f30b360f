"""One small name -> object registry used for tasks, models, losses, readers, optimizers, schedules, colour
splitters and callbacks: `@REG.register("name", **info)`, `REG.get(name)`, `REG.names()`.

A registry may name the modules that fill it (`discover=`): they are imported on the first lookup, so a
low layer can look a name up without importing the layer that registers it, and a new module in a
discovered package is found without being listed anywhere.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from handseg.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered object: its name, the object, free information (task, priority, ...) and a one-line summary."""

    name: str
    obj: T
    info: dict[str, Any] = field(default_factory=dict)
    description: str = ""


class Registry(Generic[T]):
    """Named objects of one kind; unknown names raise ConfigError listing the known ones."""

    def __init__(self, kind: str, *, discover: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        self._discover = discover
        self._discovered = not discover

    def register(self, name: str, obj: Any = None, *, override: bool = False, **info: Any) -> Any:
        """Register `obj` under `name`; without `obj`, a decorator that registers what it decorates."""

        def add(item: T) -> T:
            if name in self._entries and not override:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            doc = (inspect.getdoc(item) or "").strip().splitlines()
            self._entries[name] = Entry(name, item, dict(info), doc[0] if doc else "")
            return item

        return add if obj is None else add(obj)

    def describe(self, name: str, description: str) -> None:
        """Replace the one-line summary of `name`."""
        entry = self._entries[name]
        self._entries[name] = Entry(entry.name, entry.obj, entry.info, description)

    def unregister(self, name: str) -> None:
        """Remove `name` (tests that add a toy entry take it out again)."""
        self._entries.pop(name, None)

    def _load(self) -> None:
        if self._discovered:
            return
        self._discovered = True  # first, so that a discovered module may look names up while it registers
        for module in self._discover:
            package = importlib.import_module(module)
            for found in pkgutil.walk_packages(getattr(package, "__path__", []), prefix=module + "."):
                importlib.import_module(found.name)

    def entry(self, name: str) -> Entry[T]:
        """The entry of `name`; ConfigError naming the known names if there is none."""
        self._load()
        if name not in self._entries:
            known = ", ".join(self.names()) or "none"
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {known}")
        return self._entries[name]

    def get(self, name: str) -> T:
        """The object registered as `name`."""
        return self.entry(name).obj

    def names(self, **match: Any) -> list[str]:
        """Registered names, sorted; with keywords, only entries whose info has those values."""
        self._load()
        return sorted(n for n, e in self._entries.items() if all(e.info.get(k) == v for k, v in match.items()))

    def entries(self) -> list[Entry[T]]:
        """Every entry, in registration order (readers: their detection order is their priority order)."""
        self._load()
        return list(self._entries.values())

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load()
        return len(self._entries)

    def build(self, name: str, **kwargs: Any) -> Any:
        """Call the object registered as `name` (a class or builder) with keyword arguments."""
        builder: Callable[..., Any] = self.get(name)  # type: ignore[assignment]
        return builder(**kwargs)


# Registries named from lower layers than the modules that fill them (configs validate names, datasets name a
# task): the objects live here, the modules named in `discover` register into them.
TASKS: Registry[Any] = Registry("task", discover=("handseg.tasks",))
OPTIMIZERS: Registry[Any] = Registry("optimizer", discover=("handseg.engine.schedule",))
SCHEDULES: Registry[Any] = Registry("schedule", discover=("handseg.engine.schedule",))
CALLBACKS: Registry[Any] = Registry("callback", discover=("handseg.engine.callbacks",))
COLOUR_SPLITTERS: Registry[Any] = Registry("colour splitter", discover=("handseg.annotate.splitters",))
