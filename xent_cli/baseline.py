"""A stored result to compare this run with (``--baseline FILE``).

The baseline is the JSON document of an earlier run of the same command in the
same unit (``xent … --json -o old.json``). It is checked as a whole before any
work is done: a file that is not a xent result, or a result of another command,
unit or schema version, is a usage error naming ``--baseline``.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xent_cli.errors import UsageError
from xent_cli.errors import option as option_ref

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from xent_cli.results import Unit

# The JSON schema this xent writes (xent_cli.writers.SCHEMA_VERSION) and so can read back.
READABLE_SCHEMA = 1


@dataclass(frozen=True)
class Baseline:
    """A baseline result: its file name, as given, and its JSON document."""

    file: str
    document: dict[str, Any]

    def value(self, name: str, measure_keys: list[str]) -> float:
        """The baseline's statistic ``name`` (``kl``, ``kl.p99``, ``perplexity``), as this run names it.

        ``measure_keys`` are this run's measures: a one-measure result's summary is
        not keyed by measure. Raises KeyError for a statistic the baseline lacks.
        """
        document = self.document
        loss = document.get("loss")
        if name == "perplexity" and isinstance(loss, dict) and "perplexity" in loss:
            return _number(loss["perplexity"])
        panel = document.get("panel")
        if isinstance(panel, dict) and name in panel:
            return _number(panel[name])
        key, _, stat = name.partition(".")
        summary = document.get("summary")
        if not isinstance(summary, dict):
            raise KeyError(name)
        if name in summary and not isinstance(summary[name], dict):
            # A summary of plain numbers (calibration's ece, brier, accuracy, …), not of measures.
            return _number(summary[name])
        fields: Any = summary
        if len(measure_keys) != 1 or "mean" not in summary:
            fields = summary.get(key)
        elif key != measure_keys[0]:
            raise KeyError(name)
        if not isinstance(fields, dict) or (stat or "mean") not in fields:
            raise KeyError(name)
        return _number(fields[stat or "mean"])

    def rows(
        self, measure: str, measure_keys: list[str]
    ) -> tuple[NDArray[np.float64], list[str] | None] | None:
        """The baseline's per-row values of ``measure`` and their ids, or None when it holds none."""
        import numpy as np

        rows = self.document.get("rows")
        if not isinstance(rows, list) or not rows:
            return None
        field = "value" if len(measure_keys) == 1 else measure
        try:
            values = np.array([_number(row[field]) for row in rows], dtype=np.float64)
        except (KeyError, TypeError, ValueError):
            return None
        ids = [row.get("id") for row in rows]
        if all(isinstance(i, str) for i in ids):
            return values, ids
        return values, None


def _number(value: Any) -> float:
    """A JSON number, or one of the strings xent writes for non-finite values."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(value)
    if isinstance(value, str) and value not in ("inf", "-inf", "nan"):
        raise ValueError(value)
    return float(value)


def load(path: Path, command: str, unit: Unit) -> Baseline:
    """Read and check ``--baseline path`` for a run of ``command`` in ``unit``."""
    option = f"{option_ref('baseline')} {path}"
    hint = f"give the JSON result of an earlier run: xent {command} … {option_ref('json')} -o {path.name}"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{option}: cannot read: {exc.strerror or exc}", hint=hint) from None
    if raw[:2] == b"\x1f\x8b":  # -o old.json.gz writes gzip
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise UsageError(f"{option}: not a readable gzip file ({exc})", hint=hint) from None
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{option}: not a xent JSON result (not JSON: {exc})", hint=hint) from None
    required = ["schema_version", "command", "unit", "summary"]
    missing = required if not isinstance(document, dict) else [k for k in required if k not in document]
    if missing:
        raise UsageError(f"{option}: not a xent JSON result (it has no {_listed(missing)})", hint=hint)
    version = document["schema_version"]
    if version != READABLE_SCHEMA:
        raise UsageError(
            f"{option}: JSON schema version {version!r}; this xent reads version {READABLE_SCHEMA}",
            hint=f"write the baseline again with this xent: xent {command} … {option_ref('json')} "
            f"-o {path.name}",
        )
    if document["command"] != command:
        raise UsageError(
            f"{option}: a result of xent {document['command']}, not of xent {command}",
            hint=hint,
        )
    base = document.get("base")
    same_base = isinstance(base, (int, float)) and math.isclose(float(base), unit.base, rel_tol=1e-12)
    if document["unit"] != unit.name or not same_base:
        raise UsageError(
            f"{option}: in {document['unit']}, but this run is in {unit.name}",
            hint=f"give both runs the same {option_ref('base')} (or {option_ref('bits')})",
        )
    return Baseline(str(path), document)


def _listed(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
