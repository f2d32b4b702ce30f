#!/bin/bash
# Submit every MD campaign of the paper with its post-processing, from the project folder:
#   jobs/campaign_paper.sh            submit (prints the job ids)
#   jobs/campaign_paper.sh --dry-run  print the sbatch commands, the resources and the expected core-hours
#                                     (a 20 s calibration; PEL_RATES="65:S,1040:S,quench65:Q" skips it)
#
#   ka65        array 0-15 (4 T x 4 seeds), 1 rank each            -> IS energies / positions
#   fsize_small array over N = 65…2080, 1 rank each                  -> tau_alpha(N)
#   fsize_large array over N = 4160, 8320, 2 ranks each
#   ice520      array 0-3, 128 ranks each (its own N = 65 preparation, then 512 replicas of N = 520)
#   post        afterok on all of them: metabasins, Table I fit, ICE statistics
set -eu
cd "$(dirname "$0")/.."
export PEL_ROOT=$PWD
DRY=${1:-}

submit() {  # submit NAME SBATCH-ARGS... ; prints the job id (or a placeholder in dry runs)
    local name=$1
    shift
    if [ "$DRY" = "--dry-run" ]; then
        echo "sbatch --parsable ${*@Q}" >&2  # quoted as the shell needs it: a line to copy and run
        echo "<$name>"
    else
        sbatch --parsable "$@" | cut -d';' -f1
    fi
}

ka65=$(submit ka65 jobs/ka65.sbatch)
small=$(submit fsize_small -n 1 --array=0-5 --export=ALL,NS="65 130 260 520 1040 2080" jobs/finite_size.sbatch)
large=$(submit fsize_large -n 2 --array=0-1 --export=ALL,NS="4160 8320" jobs/finite_size.sbatch)
ice=$(submit ice520 --array=0-3 jobs/ice520.sbatch)
post=$(submit post --dependency=afterok:"$ka65:$small:$large:$ice" jobs/postprocess.sbatch \
       "python -m postprocess.metabasins runs/ka65_T*_s*/ka65_T*_s*.h5 --out results/metabasins" \
       "python -m postprocess.pel_fit runs/ka65_T*_s*/ka65_T*_s*.h5 --out results/pel_fit" \
       "for f in runs/ice520_e*/ice520_e*.h5; do python -m postprocess.ice \$f --out results/ice; done")
echo "submitted: ka65=$ka65 fsize_small=$small fsize_large=$large ice520=$ice post=$post"
if [ "$DRY" = "--dry-run" ]; then
    cat <<'TXT'
resources (rank-hours are upper bounds from the #SBATCH --time lines):
  ka65        16 tasks x 1 rank  x 48 h
  fsize_small  6 tasks x 1 rank  x 48 h
  fsize_large  2 tasks x 2 ranks x 48 h
  ice520       4 tasks x 128 ranks x 6 h
  post         1 task  x 1 rank  x 12 h
TXT
    # expected core-hours per job from our measured speed (study engineer: benchmarks/core_hours.py)
    py="${PEL_ROOT}/.venv/bin/python"; [ -x "$py" ] || py=python
    "$py" benchmarks/core_hours.py ${PEL_RATES:+--rates "$PEL_RATES"}
fi
