"""xent: entropy, cross-entropy, KL divergence and their relatives, from files.

The measures are plain functions over array-likes, along the last axis::

    >>> from xent_cli import kl_divergence
    >>> round(kl_divergence([0.5, 0.5], [0.9, 0.1]), 6)
    0.510826

NumPy is imported on first use of a measure, not by ``import xent_cli``, so the
command line starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "DistributionError",
    "XentError",
    "ami",
    "brier",
    "calibration",
    "conditional_entropy",
    "cross_entropy",
    "entropy",
    "hellinger_distance",
    "joint_entropy",
    "js_divergence",
    "kl_divergence",
    "log_loss",
    "mutual_info",
    "mutual_information",
    "nmi",
    "prepare",
    "total_variation",
]

from xent_cli.errors import DistributionError, XentError

# The distribution's name on the package index (pip install xent-cli): "xent" is another project's.
DISTRIBUTION = "xent-cli"

if TYPE_CHECKING:
    from xent_cli.core.calibration import brier, calibration
    from xent_cli.core.distributions import prepare
    from xent_cli.core.information import (
        ami,
        conditional_entropy,
        joint_entropy,
        mutual_info,
        mutual_information,
        nmi,
    )
    from xent_cli.core.loss import log_loss
    from xent_cli.core.measures import (
        cross_entropy,
        entropy,
        hellinger_distance,
        js_divergence,
        kl_divergence,
        total_variation,
    )

_LAZY = {
    "entropy": "xent_cli.core.measures",
    "cross_entropy": "xent_cli.core.measures",
    "kl_divergence": "xent_cli.core.measures",
    "js_divergence": "xent_cli.core.measures",
    "total_variation": "xent_cli.core.measures",
    "hellinger_distance": "xent_cli.core.measures",
    "log_loss": "xent_cli.core.loss",
    "mutual_information": "xent_cli.core.information",
    "conditional_entropy": "xent_cli.core.information",
    "joint_entropy": "xent_cli.core.information",
    "prepare": "xent_cli.core.distributions",
    "brier": "xent_cli.core.calibration",
    "calibration": "xent_cli.core.calibration",
    "mutual_info": "xent_cli.core.information",
    "nmi": "xent_cli.core.information",
    "ami": "xent_cli.core.information",
}


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'xent_cli' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
