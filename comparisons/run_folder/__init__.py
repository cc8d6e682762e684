"""The on-disk run format: the only code that knows the run folder's paths, keys, columns,
NaN <-> ``null``, and the write order that marks a cell complete.

The runner writes through :class:`RunFolder`, merge copies through it, and the report reads
through :func:`read_run_contents`. See :mod:`comparisons.run_folder._layout` for the layout.
"""

from comparisons.run_folder._contents import (
    ExampleFile,
    RunContents,
    parse_example_name,
    read_run_contents,
)
from comparisons.run_folder._folder import FolderState, RunFolder, method_facts
from comparisons.run_folder._keys import CellKey, GroupKey, PairKey
from comparisons.run_folder._layout import RunLayout
from comparisons.run_folder._lock import (
    RunLock,
    check_not_locked,
    describe_holder,
    is_locked,
    lock_holder,
)
from comparisons.run_folder._per_example import (
    PER_EXAMPLE_COLUMNS,
    ExampleBlock,
    per_example_table,
    read_per_example,
)
from comparisons.run_folder._quarantine import QuarantinedFile, quarantined_files
from comparisons.run_folder._rows import (
    RESULT_COLUMNS,
    ResultRow,
    load_results,
    results_csv,
    row_from_record,
    rows_from_records,
    sorted_rows,
    value_from_json,
    value_to_json,
)

__all__ = [
    "PER_EXAMPLE_COLUMNS",
    "RESULT_COLUMNS",
    "CellKey",
    "ExampleBlock",
    "ExampleFile",
    "FolderState",
    "GroupKey",
    "PairKey",
    "QuarantinedFile",
    "ResultRow",
    "RunContents",
    "RunFolder",
    "RunLayout",
    "RunLock",
    "check_not_locked",
    "describe_holder",
    "is_locked",
    "load_results",
    "lock_holder",
    "method_facts",
    "parse_example_name",
    "per_example_table",
    "quarantined_files",
    "read_per_example",
    "read_run_contents",
    "results_csv",
    "row_from_record",
    "rows_from_records",
    "sorted_rows",
    "value_from_json",
    "value_to_json",
]
