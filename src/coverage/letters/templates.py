"""Finding templates: a per-payer folder, then the clinic's folder, then the templates that ship.

Lookup order for every template (and every partial it includes):
``PRIORAUTH_TEMPLATE_DIR/<policy id>/`` → ``PRIORAUTH_TEMPLATE_DIR/`` → the shipped default
(``coverage/templates/letters`` in an installed package, ``<repo>/templates/letters`` in the
editable development install). The environment is sandboxed, autoescapes, and uses
``StrictUndefined`` so a missing field fails loudly instead of printing a blank.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from coverage.errors import ConfigurationError

MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@cache
def shipped_template_dir() -> Path:
    """The default templates: inside the installed package, else the repository's folder."""
    packaged = resources.files("coverage").joinpath("templates", "letters")
    if packaged.is_dir():
        return Path(str(packaged))
    repo = Path(__file__).resolve().parents[3] / "templates" / "letters"
    if repo.is_dir():
        return repo
    raise ConfigurationError("letter templates not found (coverage/templates/letters or templates/letters)")


def search_path(template_dir: Path | None, policy_id: str | None) -> list[Path]:
    """The folders searched, first match wins."""
    folders: list[Path] = []
    if template_dir is not None:
        if not template_dir.is_dir():
            raise ConfigurationError(f"PRIORAUTH_TEMPLATE_DIR: {template_dir} is not a folder")
        if policy_id is not None and (template_dir / policy_id).is_dir():
            folders.append(template_dir / policy_id)
        folders.append(template_dir)
    folders.append(shipped_template_dir())
    return folders


def long_date(value: dt.date | None) -> str:
    """``November 20, 2026``; an empty string for no date."""
    if value is None:
        return ""
    return f"{MONTH_NAMES[value.month - 1]} {value.day}, {value.year}"


def us_date(value: dt.date | None) -> str:
    """``11/20/2026``, as payer forms write dates; an empty string for no date."""
    return f"{value.month:02d}/{value.day:02d}/{value.year}" if value is not None else ""


def money(value: Decimal) -> str:
    """``$1,234.50``."""
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


@lru_cache(maxsize=16)
def _environment(folders: tuple[Path, ...]) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader([str(f) for f in folders]),
        autoescape=jinja2.select_autoescape(["html", "xml", "css"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["long_date"] = long_date
    env.filters["us_date"] = us_date
    env.filters["money"] = money
    return env


def template_environment(template_dir: Path | None, policy_id: str | None) -> SandboxedEnvironment:
    """The (cached) environment for one override folder and policy."""
    return _environment(tuple(search_path(template_dir, policy_id)))


def get_template(name: str, *, template_dir: Path | None, policy_id: str | None) -> jinja2.Template:
    """A template by name through the lookup order, or a configuration error naming it."""
    try:
        return template_environment(template_dir, policy_id).get_template(name)
    except jinja2.TemplateNotFound as error:
        raise ConfigurationError(f"letter template not found: {error.name}") from None
    except jinja2.TemplateSyntaxError as error:
        raise ConfigurationError(f"letter template {error.name}:{error.lineno}: {error.message}") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"letter template {name}: not UTF-8 text") from None


def render_template(template: jinja2.Template, context: dict[str, Any]) -> str:
    """Render, turning a template's own mistakes into one configuration error naming it.

    The message carries the template and Jinja2's complaint (an undefined name, a sandbox
    refusal), never the values in the context: those are PHI.
    """
    try:
        return template.render(context)
    except jinja2.UndefinedError as error:
        raise ConfigurationError(f"letter template {template.name}: {error.message}") from None
    except jinja2.exceptions.SecurityError:
        raise ConfigurationError(f"letter template {template.name}: refused by the sandbox") from None
    except jinja2.TemplateError as error:
        raise ConfigurationError(f"letter template {template.name}: {type(error).__name__}") from None
