#!/bin/bash
# Submit the array of shards and the merge that waits for all of them:
#   CONFIG=paper RUN_DIR=runs/paper bash docs/slurm/submit.sh
# sbatch passes the environment (CONFIG, RUN_DIR, PYTHON, ...) on to both jobs.
set -euo pipefail
here=$(dirname "$0")

array=$(sbatch --parsable "$here/run_array.sbatch")
array=${array%%;*} # --parsable prints "id" or "id;cluster"
# afterok on an array job: start once every task has exited 0; a failed task cancels the
# merge (--kill-on-invalid-dep) instead of leaving it pending forever.
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes \
    "$here/merge.sbatch")
echo "shards: job $array; merge: job ${merge%%;*} (after all shards succeed)"
