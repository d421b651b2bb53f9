"""The drug table: class, role and minimum adequate daily dose of each antidepressant and
augmentation agent, with brand names resolving to the generic (``shared/domain/antidepressants.csv``)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

Role = Literal["antidepressant", "augmentation"]


@dataclass(frozen=True, slots=True)
class Drug:
    """One generic drug as the table lists it."""

    name: str
    drug_class: str
    role: Role
    min_adequate_daily_mg: float
    brand_names: tuple[str, ...]


class _Spellings(dict[str, "Drug | None"]):
    """The drug of each spelling met so far: a spelling not met yet is looked up on first use.

    Indexing it is a plain dict look-up once a spelling is known (cases repeat the same few);
    it stays bounded.
    """

    def __init__(self, by_name: dict[str, Drug]) -> None:
        super().__init__()
        self._by_name = by_name

    def __missing__(self, name: str) -> Drug | None:
        if len(self) >= 4096:
            self.clear()
        found = self[name] = self._by_name.get(name.strip().lower())
        return found


class DrugTable:
    """Look-up by generic or brand name, case-insensitive, ignoring surrounding spaces.

    ``spelled[name]`` is :meth:`resolve` at the cost of a dict look-up, for the engine.
    """

    def __init__(self, drugs: list[Drug]) -> None:
        self.drugs = drugs
        self._by_name: dict[str, Drug] = {}
        for drug in drugs:
            self._by_name[drug.name.strip().lower()] = drug
            for brand in drug.brand_names:
                self._by_name.setdefault(brand.strip().lower(), drug)
        self.spelled = _Spellings(self._by_name)

    def resolve(self, name: str) -> Drug | None:
        """The drug a generic or brand name stands for, or ``None`` when the table lacks it."""
        return self.spelled[name]

    @classmethod
    def from_csv(cls, text: str) -> DrugTable:
        """Read the table from its CSV text."""
        drugs = []
        for row in csv.DictReader(io.StringIO(text)):
            role = row["role"].strip()
            if role not in ("antidepressant", "augmentation"):
                raise ValueError(f"drug table: {row['drug']}: unknown role {role!r}")
            brands = tuple(b.strip() for b in row["brand_names"].split("|") if b.strip())
            drugs.append(
                Drug(
                    name=row["drug"].strip(),
                    drug_class=row["class"].strip(),
                    role=role,  # type: ignore[arg-type]  # checked just above
                    min_adequate_daily_mg=float(row["min_adequate_daily_mg"]),
                    brand_names=brands,
                )
            )
        return cls(drugs)


@cache
def default_drug_table() -> DrugTable:
    """The table that ships with the package."""
    return DrugTable.from_csv(resources.files("coverage").joinpath("drugs.csv").read_text(encoding="utf-8"))
