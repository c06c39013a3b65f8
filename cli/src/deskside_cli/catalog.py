"""The technology catalog as a file (YAML or CSV) and what importing one would change.

A file holds what admins write about each technology: the fields of
`TechnologyCreate`, never the server's `version` or timestamps, so an export
is stable and its diffs are reviewable. Importing makes the catalog say what
the file says for every technology in it: absent optional fields are cleared.
Technologies only in Deskside are left alone (the API has no removal).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]
from pydantic import ValidationError

from deskside_cli.errors import CliError
from deskside_contracts.inventory import TechnologyCreate, TechnologyRead, VendorSupport

# The order of a file's fields: who it is first, the rules next, the long text last.
FIELDS = (
    "key",
    "kind",
    "name",
    "category",
    "vendor",
    "support_tier",
    "recommended",
    "recommended_alternative",
    "min_os_version",
    "app_identifiers",
    "vendor_support",
    "links",
    "guide",
)
VENDOR_SUPPORT_FIELDS = tuple(VendorSupport.model_fields)
# CSV has no nesting: vendor support is spread over columns, links are JSON, identifiers `; `.
CSV_COLUMNS = (
    *(name for name in FIELDS if name not in ("vendor_support", "links", "guide")),
    *(f"vendor_support.{name}" for name in VENDOR_SUPPORT_FIELDS),
    "links",
    "guide",
)
IDENTIFIER_SEPARATOR = "; "
YAML_HEADER = (
    "# The Deskside technology catalog. Review changes like code, then apply them with\n"
    "#   deskside catalog import <this file>\n"
)


class CatalogFormat(StrEnum):
    YAML = "yaml"
    CSV = "csv"


def format_for(path: Path, given: CatalogFormat | None) -> CatalogFormat:
    """`--format` if given, else the file's extension."""
    if given is not None:
        return given
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return CatalogFormat.YAML
    if suffix == ".csv":
        return CatalogFormat.CSV
    raise CliError(
        f"Cannot tell the format of {path} from its extension: "
        "name it .yaml, .yml or .csv, or pass --format yaml|csv."
    )


# --- writing -------------------------------------------------------------------------------------


def entry_from_read(technology: TechnologyRead) -> TechnologyCreate:
    """What a file holds about a technology: everything but the server's bookkeeping."""
    return TechnologyCreate.model_validate(
        technology.model_dump(mode="json", include=set(FIELDS), by_alias=True)
    )


def entry_fields(entry: TechnologyCreate) -> dict[str, Any]:
    """The entry as plain values, in file order, with an all-empty vendor support as None."""
    values = entry.model_dump(mode="json")
    support = values.get("vendor_support")
    if support is not None and all(value is None for value in support.values()):
        values["vendor_support"] = None
    return {name: values[name] for name in FIELDS}


def dump_catalog(entries: Iterable[TechnologyCreate], catalog_format: CatalogFormat) -> str:
    ordered = sorted(entries, key=lambda entry: entry.key)
    if catalog_format is CatalogFormat.YAML:
        return _dump_yaml(ordered)
    return _dump_csv(ordered)


def _dump_yaml(entries: list[TechnologyCreate]) -> str:
    documents = [_without_empty(entry_fields(entry)) for entry in entries]
    body = yaml.dump(
        {"technologies": documents},
        Dumper=_ReviewableDumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    return YAML_HEADER + str(body)


def _without_empty(values: dict[str, Any]) -> dict[str, Any]:
    """Leave out what is unset, so a file shows only what someone decided."""
    kept: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, dict):
            value = {inner: item for inner, item in value.items() if item is not None}
        if value is None or value == [] or value == {}:
            continue
        kept[name] = value
    return kept


class _ReviewableDumper(yaml.SafeDumper):  # type: ignore[misc]
    """Multi-line text (a guide in markdown) as a `|` block, the way people write it."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> Any:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ReviewableDumper.add_representer(str, _represent_text)


def _dump_csv(entries: list[TechnologyCreate]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for entry in entries:
        values = entry_fields(entry)
        support = values.pop("vendor_support") or {}
        row: dict[str, Any] = {
            **values,
            "recommended": "true" if values["recommended"] else "false",
            "app_identifiers": IDENTIFIER_SEPARATOR.join(values["app_identifiers"]),
            "links": json.dumps(values["links"], ensure_ascii=False) if values["links"] else "",
        }
        for name in VENDOR_SUPPORT_FIELDS:
            row[f"vendor_support.{name}"] = support.get(name)
        writer.writerow({column: "" if row[column] is None else row[column] for column in row})
    return out.getvalue()


# --- reading -------------------------------------------------------------------------------------


def load_catalog(path: Path, catalog_format: CatalogFormat) -> list[TechnologyCreate]:
    """Read and validate every entry, or stop naming each problem before anything is sent."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"There is no file {path}.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"Cannot read {path}: {exc}.") from None
    reader = _read_yaml if catalog_format is CatalogFormat.YAML else _read_csv
    raw = reader(text, path)
    entries: list[TechnologyCreate] = []
    problems: list[str] = []
    seen: set[str] = set()
    for where, values in raw:
        label = f"{where} ({values.get('key')})" if values.get("key") else where
        try:
            entry = TechnologyCreate.model_validate(values)
        except ValidationError as exc:
            problems += [f"  {label}: {_describe(error)}" for error in exc.errors()]
            continue
        if entry.key in seen:
            problems.append(f"  {label}: the key {entry.key!r} appears twice")
        seen.add(entry.key)
        entries.append(entry)
    if problems:
        raise CliError(f"{path} is not a valid catalog; nothing was sent:\n" + "\n".join(problems))
    return entries


def _describe(error: Any) -> str:
    location = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{location}: {message}" if location else message


def _read_yaml(text: str, path: Path) -> list[tuple[str, dict[str, Any]]]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CliError(f"{path} is not valid YAML: {exc}") from None
    if isinstance(document, dict) and set(document) == {"technologies"}:
        document = document["technologies"]
    if document is None:
        document = []
    if not isinstance(document, list):
        raise CliError(f"{path} should hold `technologies:` followed by a list of technologies.")
    rows: list[tuple[str, dict[str, Any]]] = []
    for number, item in enumerate(document, start=1):
        if not isinstance(item, dict):
            raise CliError(f"{path}: technology {number} is not a mapping of fields to values.")
        rows.append((f"technology {number}", item))
    return rows


def _read_csv(text: str, path: Path) -> list[tuple[str, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    columns = reader.fieldnames or []
    unknown = [column for column in columns if column not in CSV_COLUMNS]
    if unknown:
        raise CliError(
            f"{path}: unknown column(s) {', '.join(unknown)}; the columns are "
            f"{', '.join(CSV_COLUMNS)}."
        )
    if "key" not in columns:
        raise CliError(f"{path} has no `key` column: is the first line the header?")
    rows: list[tuple[str, dict[str, Any]]] = []
    for row in reader:
        where = f"line {reader.line_num}"
        rows.append((where, _values_from_row(row, where, path)))
    return rows


def _values_from_row(row: dict[str, Any], where: str, path: Path) -> dict[str, Any]:
    if None in row:
        raise CliError(f"{path}, {where}: more cells than columns.")
    cells = {column: (value or "").strip() for column, value in row.items()}
    values: dict[str, Any] = {}
    support: dict[str, str] = {}
    for column, cell in cells.items():
        if column.startswith("vendor_support."):
            if cell:
                support[column.removeprefix("vendor_support.")] = cell
        elif column in _CELL_PARSERS:
            values[column] = _CELL_PARSERS[column](cell, f"{path}, {where}")
        elif cell:
            values[column] = cell
    if support:
        values["vendor_support"] = support
    return values


def _parse_bool(cell: str, where: str) -> bool:
    lowered = cell.lower()
    if lowered in ("", "false", "no", "0"):
        return False
    if lowered in ("true", "yes", "1"):
        return True
    raise CliError(f"{where}: recommended should be true or false, not {cell!r}.")


def _parse_identifiers(cell: str, _where: str) -> list[str]:
    return [part.strip() for part in cell.split(";") if part.strip()]


def _parse_links(cell: str, where: str) -> Any:
    if not cell:
        return []
    try:
        return json.loads(cell)
    except json.JSONDecodeError:
        raise CliError(
            f'{where}: links should be JSON, e.g. [{{"title": "Help", "url": "https://…"}}].'
        ) from None


_CELL_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "recommended": _parse_bool,
    "app_identifiers": _parse_identifiers,
    "links": _parse_links,
}


# --- what an import would change -----------------------------------------------------------------


@dataclass
class Update:
    current: TechnologyRead
    changes: dict[str, Any]


@dataclass
class ImportPlan:
    create: list[TechnologyCreate] = field(default_factory=list)
    update: list[Update] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # In Deskside but not in the file: left as they are.
    untouched: list[str] = field(default_factory=list)


def plan_import(entries: list[TechnologyCreate], current: list[TechnologyRead]) -> ImportPlan:
    """Compare the file with the catalog: what to create, what to change field by field."""
    existing = {technology.key: technology for technology in current}
    plan = ImportPlan()
    refused: list[str] = []
    for entry in entries:
        technology = existing.get(entry.key)
        if technology is None:
            plan.create.append(entry)
            continue
        wanted = entry_fields(entry)
        now = entry_fields(entry_from_read(technology))
        changes = {name: wanted[name] for name in FIELDS if wanted[name] != now[name]}
        if "kind" in changes:
            refused.append(
                f"  {entry.key}: its kind is {technology.kind.value} in Deskside and "
                f"{entry.kind.value} in the file; a kind is fixed when a technology is added"
            )
        elif changes:
            plan.update.append(Update(technology, changes))
        else:
            plan.unchanged.append(entry.key)
    if refused:
        raise CliError("The file cannot be applied; nothing was sent:\n" + "\n".join(refused))
    in_file = {entry.key for entry in entries}
    plan.untouched = sorted(key for key in existing if key not in in_file)
    return plan
