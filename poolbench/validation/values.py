"""Config values against the annotations of the code that takes them.

A section of the config (``trainer``, ``model``, ``pooler`` …) is checked
against a :class:`Spec`: the parameters of the dataclass or callable that
consumes it. A key it does not take is refused with the closest real key; a
value must match the annotation (``1.5`` is not an ``int``, ``"abc"`` is not a
number); :data:`RANGES` adds the bounds an annotation cannot say. No torch here:
the checks run before anything heavy is imported.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field

from poolbench.errors import PoolbenchError

# Bounds by dotted key; a list value (model.blocks) is checked item by item.
RANGES = {
    "seed": "[0, inf)",
    "trainer.max_epochs": "[1, inf)",
    "trainer.patience": "[1, inf)",
    "trainer.batch_size": "[1, inf)",
    "trainer.lr": "(0, inf)",
    "trainer.weight_decay": "[0, inf)",
    "trainer.grad_clip": "[0, inf)",
    "trainer.threads": "[0, inf)",  # 0: cores / parallel jobs
    "trainer.lr_step": "[0, inf)",  # 0: constant lr
    "trainer.lr_gamma": "(0, 1]",
    "model.blocks": "[1, inf)",
    "model.hidden": "[1, inf)",
    "model.mlp_hidden": "[0, inf)",  # 0: one linear layer after the readout
    "model.dropout": "[0, 1)",
    "model.head_dropout": "[0, 1)",
    "model.pool_ratio": "(0, 1]",
    "pooler.temp": "(0, inf)",  # a softmax temperature: 0 gives NaN
    "pooler.n_init": "[1, inf)",  # kmeans's restarts
    "protocol.folds": "[1, inf)",
    "protocol.runs": "[1, inf)",
    "protocol.n_jobs": "[1, inf)",
    "protocol.val_size": "(0, 1)",
    "protocol.test_size": "(0, 1)",
    "dataset.max_degree": "[1, inf)",
    "task.mp_layers": "[0, inf)",  # community: MP layers before the pooler
    "eval.steps": "[1, inf)",  # Adam steps per graph
    "eval.eigenvectors": "[1, inf)",
    "eval.rowsum_tol": "[0, inf)",
    "eval.red_tol": "[0, inf)",
}

ANY = object()  # an annotation we do not check: every value passes


@dataclass(frozen=True)
class Interval:
    """``(0, 1]``-style bounds; ``inf`` stands for no upper bound."""

    low: float
    high: float
    low_open: bool
    high_open: bool

    @classmethod
    def parse(cls, text: str) -> Interval:
        low, high = (float(part) for part in text[1:-1].split(","))
        return cls(low, high, text[0] == "(", text[-1] == ")")

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def describe(self) -> str:
        if math.isinf(self.high):
            return f"be {'>' if self.low_open else '≥'} {self.low:g}"
        left, right = "(["[not self.low_open], ")]"[not self.high_open]
        return f"lie in {left}{self.low:g}, {self.high:g}{right}"


@dataclass(frozen=True)
class Param:
    annotation: object
    required: bool


@dataclass
class Spec:
    """What one config section may hold: the parameters of its consumer.

    ``injected`` names parameters poolbench fills in itself (and where from);
    ``open`` is true when the consumer takes ``**kwargs``.
    """

    section: str
    params: dict[str, Param]
    injected: dict[str, str] = field(default_factory=dict)
    open: bool = False

    @classmethod
    def of(cls, section: str, target, injected: dict[str, str] | None = None):
        """The spec of a dataclass, a class (its ``__init__``) or a function."""
        injected = injected or {}
        if dataclasses.is_dataclass(target):
            hints = typing.get_type_hints(target)
            params = {
                f.name: Param(
                    hints.get(f.name, ANY),
                    f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING,
                )
                for f in dataclasses.fields(target)
            }
            return cls(section, params, injected)
        func = target.__init__ if isinstance(target, type) else target
        signature = inspect.signature(func)
        names = list(signature.parameters)
        if isinstance(target, type):
            names = names[1:]  # self
        params, is_open = {}, False
        for name in names:
            p = signature.parameters[name]
            if p.kind is p.VAR_KEYWORD:
                is_open = True
            elif p.kind is not p.VAR_POSITIONAL and name not in injected:
                ann = _evaluate(p.annotation, getattr(func, "__globals__", {}))
                params[name] = Param(ann, p.default is p.empty)
        return cls(section, params, injected, is_open)


def _evaluate(annotation, namespace: dict):
    """A string annotation (``from __future__ import annotations``) as a type."""
    if annotation is inspect.Parameter.empty:
        return ANY
    if isinstance(annotation, str):
        try:
            return eval(annotation, dict(namespace))  # noqa: S307 - our own source
        except Exception:
            return ANY
    return annotation


def conforms(value, annotation) -> bool:
    """Whether a plain config value (no OmegaConf nodes) fits ``annotation``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is ANY or annotation is typing.Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, a) for a in args)
    if origin is typing.Literal:
        return value in args
    if annotation in (None, type(None)):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if annotation in (list, tuple) or origin in (list, tuple, Sequence):
        items = [a for a in args if a is not Ellipsis]
        return isinstance(value, list | tuple) and all(
            conforms(v, items[0]) for v in value if items
        )
    if annotation is dict or origin is dict:
        return isinstance(value, dict)
    return True  # a class we cannot build from a config value: not ours to judge


def describe(annotation) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in args)
    if origin is typing.Literal:
        if len(args) == 1:
            return str(args[0])
        return "one of " + ", ".join(str(a) for a in args)
    if annotation in (list, tuple) or origin in (list, tuple, Sequence):
        items = [a for a in args if a is not Ellipsis]
        if not items:
            return "a list"
        item = describe(items[0]).removeprefix("an ").removeprefix("a ")
        return f"a list of {item}s"  # "a list of integers", not "of an integers"
    names = {
        int: "an integer",
        float: "a number",
        bool: "true or false",
        str: "a string",
        dict: "a mapping",
        type(None): "null",
        None: "null",
    }
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def unknown_key(section: str, key: str, known) -> PoolbenchError:
    """``unknown key trainer.max_epoch; did you mean trainer.max_epochs?``"""
    prefix = f"{section}." if section else ""
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    if close:
        hint = f"did you mean {prefix}{close[0]}?"
    elif known:
        hint = f"{section or 'the config'} takes {', '.join(sorted(known))}"
    else:
        hint = f"{section} takes no keys of its own"
    return PoolbenchError(f"unknown key {prefix}{key}; {hint}")


def unknown_override(key: str, overrides: list[str], compose) -> PoolbenchError:
    """``unknown key trainer.max_epoch; did you mean trainer.max_epochs?`` for an
    override Hydra could not apply. The keys it might have meant come from
    ``compose`` without it, or, when the rest fails too, with the group
    choices alone (no dotted keys); when neither composes, no hint at all
    rather than a wrong one."""
    from omegaconf import DictConfig, OmegaConf

    for override in overrides:
        name, _, value = override.partition("=")
        if name.startswith("protocol.grid.") and name.startswith(key):
            # the one misspelling every grid user makes: an axis is a new key
            return PoolbenchError(
                f"{name} is not in the config; a grid axis is added with a "
                f"leading +: +{name}={value}"
            )
    section, _, leaf = key.rpartition(".")
    rest = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") != key]
    groups = [o for o in rest if "." not in o.split("=", 1)[0]]
    for attempt in (rest, groups):
        try:
            cfg = compose(attempt)
        except Exception:
            continue
        node = OmegaConf.select(cfg, section) if section else cfg
        if not isinstance(node, DictConfig):
            return PoolbenchError(f"unknown key {key}: the config has no {section}")
        if section == "pooler" and leaf in _constructor_args(node.get("_target_")):
            value = dict(o.partition("=")[::2] for o in overrides).get(key, "VALUE")
            return PoolbenchError(
                f"{key} is an argument of {node._target_} that its pooler YAML "
                f"does not list: write +{key}={value} (or add {leaf} to the YAML)"
            )
        return unknown_key(section, leaf, [k for k in node if k != "hydra" or section])
    return PoolbenchError(f"unknown key {key}")


def check_value(key: str, value, annotation) -> None:
    if not conforms(value, annotation):
        shown = repr(value) if isinstance(value, str) else value
        raise PoolbenchError(f"{key} must be {describe(annotation)}, got {shown}")
    check_range(key, value)


def check_range(key: str, value) -> None:
    """Numbers (or lists of them) under a :data:`RANGES` key; others pass here."""
    bounds = RANGES.get(key)
    if bounds is None:
        return
    interval = Interval.parse(bounds)
    items = value if isinstance(value, list | tuple) else [value]
    if isinstance(value, list | tuple) and not value:
        raise PoolbenchError(f"{key} must not be empty")
    for item in items:
        number = isinstance(item, int | float) and not isinstance(item, bool)
        if number and item not in interval:
            raise PoolbenchError(f"{key} must {interval.describe()}, got {value}")


def check_ranges(values: dict, prefix: str = "") -> None:
    """Every :data:`RANGES` key of a whole config tree; wrong types pass here."""
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            check_ranges(value, f"{path}.")
        else:
            check_range(path, value)


def check_section(spec: Spec, values: dict) -> None:
    """Unknown, injected or missing keys and wrong values of one section."""
    prefix = f"{spec.section}." if spec.section else ""
    for key, value in values.items():
        if key in spec.injected:
            raise PoolbenchError(
                f"{prefix}{key} is set by poolbench from {spec.injected[key]}; "
                f"remove {prefix}{key}"
            )
        param = spec.params.get(key)
        if param is None:
            if spec.open:
                continue
            raise unknown_key(spec.section, key, spec.params)
        check_value(f"{prefix}{key}", value, param.annotation)
    for key, param in spec.params.items():
        if param.required and key not in values:
            raise PoolbenchError(f"{prefix}{key} is required; set {prefix}{key}=VALUE")


def check_fields(obj, section: str) -> None:
    """A dataclass instance checked like its config section (``__post_init__``)."""
    check_section(Spec.of(section, type(obj)), dataclasses.asdict(obj))


def check_plain_name(key: str, name: str) -> None:
    """A name used as a folder under data.root: no path separators, no ``..``."""
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise PoolbenchError(
            f"{key}={name!r} must be a plain name (no '/', '\\' or '..'); "
            "it names a folder under data.root"
        )


def _constructor_args(target) -> set[str]:
    """The arguments a pooler's config may set (none when the class cannot be
    had); what poolbench injects gets no + hint."""
    from hydra.utils import get_class

    from poolbench.pooling.base import config_args

    try:
        return set(config_args(get_class(str(target))))
    except Exception:  # an unknown target is refused elsewhere, with a message
        return set()
