"""Writers for programs: JSON, JSON Lines, CSV, TSV and the bare headline number.

Machine formats are stable: JSON follows ``schema_version`` 1, numbers are
written with Python's shortest round-trip repr, and non-finite values are the
strings ``"inf"``, ``"-inf"`` and ``"nan"`` so that strict parsers (jq) accept them.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict
from typing import Any, Literal, TextIO

from xent_cli.results import Explanation, GateReport, Result

OutputFormat = Literal["auto", "table", "json", "jsonl", "csv", "tsv"]
SCHEMA_VERSION = 1


def json_number(value: float) -> float | str:
    """A float as JSON allows it: non-finite values become strings."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def text_number(value: float) -> str:
    """Full precision for CSV/TSV/--value: shortest repr that round-trips."""
    converted = json_number(float(value))
    return converted if isinstance(converted, str) else repr(converted)


def jsonable(value: Any) -> Any:
    """Nested data with every non-finite float spelled as a string."""
    if isinstance(value, float):
        return json_number(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def _summary(result: Result) -> dict[str, Any]:
    """Every summary statistic, always (for one row, min = max = mean = sum)."""
    if len(result.measures) == 1:
        return result.summary(result.headline.key)
    return {m.key: result.summary(m.key) for m in result.measures}


def _explanation(explanation: Explanation) -> dict[str, Any]:
    return explanation.to_dict()


def _rows(result: Result) -> list[dict[str, Any]]:
    rows = []
    columns = [(m.key, m.values.tolist()) for m in result.measures]
    for i in range(result.count):
        row: dict[str, Any] = {"row": result.row_number(i), "id": result.ids[i] if result.ids else None}
        if len(columns) == 1:
            row["value"] = columns[0][1][i]
        else:
            for key, values in columns:
                row[key] = values[i]
        rows.append(row)
    return rows


def to_document(result: Result, report: GateReport | None = None, *, worst: int = 0) -> dict[str, Any]:
    """The JSON document for a result (schema version 1)."""
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "command": result.command,
        "unit": result.unit.name,
        "base": result.unit.base,
        "sources": result.sources,
    }
    document["summary"] = _summary(result)
    document["rows"] = _rows(result)
    if worst:
        document["worst"] = [asdict(row) for row in result.worst_rows(worst)]
    if result.panel is not None:
        document["panel"] = result.panel
    if result.smoothing is not None:
        document["smoothing"] = asdict(result.smoothing)
    if result.loss is not None:
        document["loss"] = asdict(result.loss)
    if result.info is not None:
        info = asdict(result.info)
        joint = info.pop("joint")
        document["info"] = info
        if joint is not None:
            document["joint"] = joint
    if result.samples is not None:
        document["samples"] = asdict(result.samples)
    if result.layouts:
        document["layout"] = result.layouts
    if report is not None:
        document["gate"] = report.to_dict()
    if result.explanation is not None:
        document["explain"] = _explanation(result.explanation)
    return jsonable(document)  # type: ignore[no-any-return]


def write_json(result: Result, report: GateReport | None, out: TextIO, *, worst: int = 0) -> None:
    json.dump(to_document(result, report, worst=worst), out, indent=2, allow_nan=False, ensure_ascii=False)
    out.write("\n")


def write_jsonl(result: Result, out: TextIO) -> None:
    """One JSON object per row: ``{"row": 1, "id": …, "value": …}``."""
    for row in jsonable(_rows(result)):
        out.write(json.dumps(row, allow_nan=False, ensure_ascii=False))
        out.write("\n")


def column_name(result: Result, index: int) -> str:
    measure = result.measures[index]
    if len(result.measures) == 1:
        return f"{result.command.replace('-', '_')}_{_unit_slug(result)}"
    return f"{measure.key}_{_unit_slug(result)}" if measure.in_unit else measure.key


def _unit_slug(result: Result) -> str:
    return result.unit.name.replace("-", "_")


def write_delimited(result: Result, out: TextIO, delimiter: str) -> None:
    """A header line, then one line per row: ``row``, ``id``, then each measure."""
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    header = ["row", "id"] + [column_name(result, i) for i in range(len(result.measures))]
    writer.writerow(header)
    columns = [m.values.tolist() for m in result.measures]
    for i in range(result.count):
        row_id = result.ids[i] if result.ids else ""
        writer.writerow([result.row_number(i), row_id, *(text_number(c[i]) for c in columns)])


def write_value(result: Result, out: TextIO) -> None:
    out.write(text_number(result.headline_value()) + "\n")
