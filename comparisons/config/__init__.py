"""The harness's config, in one place: its schema (:class:`HarnessConfig` and its entries),
its TOML layout, reading and checking it, and the run folder's copy of it.

Every value is checked once, when the config loads (:func:`load_config`,
:func:`parse_config`); what needs a dataset or a model built is checked by
:func:`check_config` before the first training step. The run trusts a loaded config.
"""

from comparisons.config._check import PROBE_EXAMPLES, ConfigCheck, check_config
from comparisons.config._custom_methods import CustomMethodEntry, changed_custom_methods
from comparisons.config._device import check_device_name, resolve_device
from comparisons.config._entries import PYTHON_DATASET, DatasetEntry, ModelEntry
from comparisons.config._harness_config import MAP_TARGETS, HarnessConfig, stable_hash
from comparisons.config._parse import EMBEDDED_CONFIGS, load_config, parse_config
from comparisons.config._python_config import python_config
from comparisons.config._stored import (
    read_config_for_report,
    read_stored_config,
    stored_fingerprint,
    write_stored_config,
)
from comparisons.config._toml import dumps as dumps_toml

__all__ = [
    "EMBEDDED_CONFIGS",
    "MAP_TARGETS",
    "PROBE_EXAMPLES",
    "PYTHON_DATASET",
    "ConfigCheck",
    "CustomMethodEntry",
    "DatasetEntry",
    "HarnessConfig",
    "ModelEntry",
    "changed_custom_methods",
    "check_config",
    "check_device_name",
    "dumps_toml",
    "load_config",
    "parse_config",
    "python_config",
    "read_config_for_report",
    "read_stored_config",
    "resolve_device",
    "stable_hash",
    "stored_fingerprint",
    "write_stored_config",
]
