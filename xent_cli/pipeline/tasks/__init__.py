"""Per-command tasks: one source (or shard, or pair of shards) in, one :class:`Partial` out.

Each task reads through ``xent_cli.pipeline.align``, computes with
``xent_cli.core`` and returns what its rows contribute. Tasks are top-level
functions with plain-data arguments, so a Dask worker can run them as they
are; the local engine runs the same functions in this process.

One module per command family: :mod:`.entropy`, :mod:`.pair` (with the measures of
:mod:`.pair_measures`), :mod:`.loss`, :mod:`.information`; :mod:`.common` and
:mod:`.targets` hold what they share.
"""

from __future__ import annotations

from xent_cli.pipeline.tasks.common import (
    KERNEL_BLOCK_ELEMENTS,
    KERNEL_MIN_BLOCK_ROWS,
    WARM_UP_BYTES,
)
from xent_cli.pipeline.tasks.entropy import (
    ENTROPY_FORMULAS,
    entropy_task,
)
from xent_cli.pipeline.tasks.information import (
    INFO_MEASURES,
    count_samples,
    entropy_column_task,
    info_samples_task,
    info_table_task,
)
from xent_cli.pipeline.tasks.loss import (
    LabelledReader,
    LossSettings,
    binary_scores,
    loss_task,
    topk_loss_task,
)
from xent_cli.pipeline.tasks.pair import (
    TOPK_METHOD,
    TOPK_NOTE,
    PairSettings,
    TargetReader,
    pair_task,
)
from xent_cli.pipeline.tasks.pair_measures import (
    BHATTACHARYYA,
    CHI2,
    CROSS_ENTROPY,
    DELTA_P,
    HELLINGER,
    JEFFREYS,
    JS,
    JS_DISTANCE,
    KL,
    KL_REVERSE,
    MAX_ABS_DIFF,
    NLL_P,
    NLL_Q,
    P_OUTSIDE,
    PAIR_COMMANDS,
    PAIR_MEASURES,
    TARGET_MEASURES,
    TOP1,
    TOTAL_VARIATION,
    OutcomeSums,
    PairCommand,
    PairContext,
    PairMeasure,
    pair_measure,
)
from xent_cli.pipeline.tasks.targets import (
    TargetMapper,
    target_source,
)

__all__ = [
    "BHATTACHARYYA",
    "CHI2",
    "CROSS_ENTROPY",
    "DELTA_P",
    "ENTROPY_FORMULAS",
    "HELLINGER",
    "INFO_MEASURES",
    "JEFFREYS",
    "JS",
    "JS_DISTANCE",
    "KERNEL_BLOCK_ELEMENTS",
    "KERNEL_MIN_BLOCK_ROWS",
    "KL",
    "KL_REVERSE",
    "MAX_ABS_DIFF",
    "NLL_P",
    "NLL_Q",
    "PAIR_COMMANDS",
    "PAIR_MEASURES",
    "P_OUTSIDE",
    "TARGET_MEASURES",
    "TOP1",
    "TOPK_METHOD",
    "TOPK_NOTE",
    "TOTAL_VARIATION",
    "WARM_UP_BYTES",
    "LabelledReader",
    "LossSettings",
    "OutcomeSums",
    "PairCommand",
    "PairContext",
    "PairMeasure",
    "PairSettings",
    "TargetMapper",
    "TargetReader",
    "binary_scores",
    "count_samples",
    "entropy_column_task",
    "entropy_task",
    "info_samples_task",
    "info_table_task",
    "loss_task",
    "pair_measure",
    "pair_task",
    "target_source",
    "topk_loss_task",
]
