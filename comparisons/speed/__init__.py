"""The speed and scale benchmark of the iFIM (``python -m comparisons speed``).

Times, in one run on the same models and batches, the iFIM decomposition, Captum's
Saliency (one backward pass, the floor for gradient methods), the paper's procedure done
naively (one gradient per class per sample), Grad-CAM, Score-CAM and DeepSHAP; each as a
median after a warm-up, as a ratio to Saliency, with peak memory and the number of
backward passes, over ResNet18 and the shallow CNN, C = 2, 3, 10 (and 100) and image
sides 64, 256, 1024, and (the ``zoo`` suite) per image on torchvision, timm and MONAI
networks at one size. Writes ``speed.csv``, ``summary.md`` (the issue's targets,
PASS/FAIL with the measured figure) and ``cost_vs_pixels.png``/``cost_vs_classes.png``.
See ``docs/performance.md`` for the method and the figures measured.
"""

from comparisons.speed._backward_count import BackwardCounter
from comparisons.speed._benchmark import BenchmarkResult, add_saliency_ratios, run_benchmark
from comparisons.speed._cli import QUICK, main, options_from_args, parser
from comparisons.speed._measure import measure_cell, scale_logits, time_calls
from comparisons.speed._method_calls import method_call
from comparisons.speed._naive import naive_ifim_decomposition, naive_ifim_map
from comparisons.speed._plan import (
    DEFAULT_MAX_SIDE,
    GRID_CLASSES,
    GRID_METHODS,
    GRID_MODELS,
    GRID_SIDES,
    SUITES,
    ZOO_CLASSES,
    ZOO_METHODS,
    PlanOptions,
    max_side,
    plan_cells,
)
from comparisons.speed._plots import plot_costs
from comparisons.speed._results_csv import read_rows, write_rows
from comparisons.speed._summary import summary_markdown
from comparisons.speed._target_checks import TargetCheck, check_targets, log_log_slope
from comparisons.speed._timed_cell import COLUMNS, METHODS, MethodName, Row, TimedCell
from comparisons.speed._zoo import (
    ZOO_NETWORKS,
    ZOO_SIDE,
    ZOO_SIDE_3D,
    ZooNetwork,
    build_zoo_network,
)

__all__ = [
    "COLUMNS",
    "DEFAULT_MAX_SIDE",
    "GRID_CLASSES",
    "GRID_METHODS",
    "GRID_MODELS",
    "GRID_SIDES",
    "METHODS",
    "QUICK",
    "SUITES",
    "ZOO_CLASSES",
    "ZOO_METHODS",
    "ZOO_NETWORKS",
    "ZOO_SIDE",
    "ZOO_SIDE_3D",
    "BackwardCounter",
    "BenchmarkResult",
    "MethodName",
    "PlanOptions",
    "Row",
    "TargetCheck",
    "TimedCell",
    "ZooNetwork",
    "add_saliency_ratios",
    "build_zoo_network",
    "check_targets",
    "log_log_slope",
    "main",
    "max_side",
    "measure_cell",
    "method_call",
    "naive_ifim_decomposition",
    "naive_ifim_map",
    "options_from_args",
    "parser",
    "plan_cells",
    "plot_costs",
    "read_rows",
    "run_benchmark",
    "scale_logits",
    "summary_markdown",
    "time_calls",
    "write_rows",
]
