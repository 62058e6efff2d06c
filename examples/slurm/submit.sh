#!/usr/bin/env bash
# Plans a sweep and submits it to Slurm: an array of SHARDS tasks (at most MAX_PARALLEL at a
# time) and a merge job that starts when every task has succeeded.
#
#   examples/slurm/submit.sh SWEEP.toml SWEEP_DIR SHARDS [MAX_PARALLEL] [-- extra sbatch options]
#
# SWEEP_DIR must be on a file system every node sees. The binary is `sgd-escape` on PATH or
# $SGD_ESCAPE. Prints the two job ids (array, merge) on one line.
set -euo pipefail
here=$(dirname "$(realpath "$0")")
sweep=${1:?usage: submit.sh SWEEP.toml SWEEP_DIR SHARDS [MAX_PARALLEL]}
dir=${2:?usage: submit.sh SWEEP.toml SWEEP_DIR SHARDS [MAX_PARALLEL]}
shards=${3:?usage: submit.sh SWEEP.toml SWEEP_DIR SHARDS [MAX_PARALLEL]}
parallel=${4:-$shards}
shift $(( $# < 4 ? $# : 4 ))
[ "${1:-}" = "--" ] && shift
"${SGD_ESCAPE:-sgd-escape}" sweep plan "$sweep" --out "$dir" >&2
dir=$(realpath "$dir")
array=$(sbatch --parsable "$@" --array="0-$((shards - 1))%$parallel" --output="$dir/slurm-%A_%a.out" \
  "$here/sweep.sbatch" "$dir")
array=${array%%;*}
merge=$(sbatch --parsable "$@" --dependency="afterok:$array" --output="$dir/slurm-merge-%j.out" \
  "$here/merge.sbatch" "$dir")
merge=${merge%%;*}
echo "$array $merge"
