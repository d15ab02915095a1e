"""The experiment form's inputs as one table: a row per config field, drawn and checked by one loop."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import streamlit as st

from lth.core.config import FIELD_SECTION, SECTIONS, flag


@dataclass(frozen=True)
class Field:
    """One input of the form: a config field, its label, its widget and what the lab allows of it."""

    name: str  # the config field; its widget's key is lab_<name>
    label: str
    column: int  # which of the form's three columns
    kind: str = "number"  # "number" (a whole number where step is one) or "checkbox"
    step: int | float = 1
    limits: tuple[int, int] | None = None  # what a lab run allows, checked before the config's own rules
    format: str | None = None

    @property
    def key(self) -> str:
        return f"lab_{self.name}"

    @property
    def help(self) -> str:
        """The config field's own help, as `python -m lth run --help` shows it."""
        section = SECTIONS[FIELD_SECTION[self.name]]
        return next(f.metadata["help"] for f in dataclasses.fields(section) if f.name == self.name)


FIELDS = (
    Field("levels", "Pruning levels", column=0, limits=(0, 12)),
    Field("iterations", "Iterations per level", column=0, step=50, limits=(50, 5000)),
    Field("rate_fc", "Prune rate, fully-connected", column=1, step=0.05, format="%.2f"),
    Field("rate_conv", "Prune rate, conv", column=1, step=0.05, format="%.2f"),
    Field("rate_output", "Prune rate, output", column=1, step=0.05, format="%.2f"),
    Field("trials", "Trials", column=2, limits=(1, 3)),
    Field("reinit", "Random-reinit controls per trial", column=2, limits=(0, 2)),
    Field("random_prune", "Random-pruning controls per trial", column=2, limits=(0, 2)),
    Field("one_shot", "One-shot pruning arm", column=2, kind="checkbox"),
)


def draw(errors: dict[str, str]) -> dict:
    """Every input in its column, each with the error the last Start found under it; {field: value}."""
    columns = st.columns(3)
    values = {}
    for field in FIELDS:
        with columns[field.column]:
            values[field.name] = _widget(field)
            error_under(field.name, errors)
    return values


def _widget(field: Field):
    if field.kind == "checkbox":
        return bool(st.checkbox(field.label, key=field.key, help=field.help))
    value = st.number_input(field.label, step=field.step, format=field.format, key=field.key, help=field.help)
    return type(field.step)(value)


def error_under(name: str, errors: dict[str, str]) -> None:
    """A form field's error under it, as the form's check found it."""
    if name in errors:
        st.error(errors[name], icon="⚠️")


def out_of_limits(values: dict) -> dict[str, str]:
    """{field: why} for each value outside what a lab run allows."""
    return {f.name: f"{flag(f.name)} must be between {f.limits[0]} and {f.limits[1]} in the lab "
                    "(use the CLI for bigger runs)"
            for f in FIELDS if f.limits and not f.limits[0] <= values[f.name] <= f.limits[1]}
