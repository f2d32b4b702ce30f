# Shared by every sbatch script of pel_hpc (sourced, not run).
#
# - environment: the project's venv, one thread per rank unless the deck's run.threads says more
#   (then each rank is mapped onto that many cores: submit with --cpus-per-task=<threads>), Open MPI
#   allowed as root in containers;
# - pel_launch DECK: run a deck under mpirun with -n $SLURM_NTASKS, restarting from its checkpoint
#   when one exists (a requeued job starts its script from the top and lands here again);
# - signals: sbatch --signal=B:USR1@<seconds> warns the batch shell before the time limit; the trap
#   forwards USR1 to the backgrounded mpirun (Open MPI passes it to every rank), pel_hpc writes a
#   checkpoint and exits 75, and the script requeues itself (sbatch --requeue) to continue.
#
# Exit codes of pel-hpc (pel_hpc/errors.py): 0 done, 2 bad deck, 3 missing input, 4 corrupt file,
# 5 impossible decomposition, 6 rank count differs from SLURM_NTASKS, 7 output exists (fresh run without
# --overwrite), 8 every offered start is crystalline, 9 output in use by another job, 10 a write failed
# (disk full), 11 the MD diverged, 75 checkpointed on a signal (requeued below).

PEL_ROOT="${PEL_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
PEL_VENV="${PEL_VENV:-$PEL_ROOT/.venv}"
PEL_EXIT_CHECKPOINTED=75

pel_env() {
    # shellcheck disable=SC1091
    source "$PEL_VENV/bin/activate"
    export PYTHONPATH="$PEL_ROOT${PYTHONPATH:+:$PYTHONPATH}"
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
    export PYTHONUNBUFFERED=1
    # Open MPI inside an allocation: one rank per task, bound to cores, no oversubscription by default
    PEL_MPIRUN=(mpirun -n "${SLURM_NTASKS:-1}" --bind-to "${PEL_BIND:-core}" ${PEL_MPIRUN_FLAGS:-})
}

pel_deck_value() {  # pel_deck_value DECK checkpoint.file  -> the validated value (paths absolute)
    python - "$1" "$2" <<'PY'
import sys
from pel_hpc.deck.validate import load_deck
value = load_deck(sys.argv[1])
for key in sys.argv[2].split("."):
    value = getattr(value, key)
print(value)
PY
}

pel_has_checkpoint() {  # true when DECK's checkpoint file holds a complete checkpoint
    local chk
    chk=$(pel_deck_value "$1" checkpoint.file) || return 1
    python -c "import sys; from pel_hpc.io.checkpoint import checkpoint_step as s; sys.exit(s(sys.argv[1]) is None)" "$chk"
}

pel_derive() {  # pel_derive SOURCE_DECK RUN_DIR KEY=VALUE...  -> prints RUN_DIR/deck.yaml
    local source=$1 dir=$2
    shift 2
    local args=()
    for kv in "$@"; do args+=(--set "$kv"); done
    python -m pel_hpc.deck.derive "$source" "$dir/deck.yaml" "${args[@]}" >&2 || return $?
    echo "$dir/deck.yaml"
}

pel_launch() {  # pel_launch DECK: run (or continue) a deck; requeue the job when checkpointed
    local deck=$1 restart=() child rc
    pel_env
    python -m pel_hpc validate "$deck" || return $?
    local threads mpirun=("${PEL_MPIRUN[@]}")
    threads=$(pel_deck_value "$deck" run.threads) || return $?
    if [ "$threads" -gt 1 ] && [ "${PEL_BIND:-core}" != none ]; then  # each rank on its own $threads cores
        mpirun=(mpirun -n "${SLURM_NTASKS:-1}" --map-by "slot:PE=$threads" --bind-to core ${PEL_MPIRUN_FLAGS:-})
    fi
    if pel_has_checkpoint "$deck"; then
        restart=(--restart)
        echo "pel_launch: continuing $deck from its checkpoint"
    else  # no checkpoint: any output is from a task killed before its first one and cannot be continued
        restart=(--overwrite)
    fi
    "${mpirun[@]}" python -m pel_hpc run "$deck" "${restart[@]}" &
    child=$!
    trap 'echo "pel_launch: signal received, asking pel_hpc to checkpoint"; kill -USR1 "$child" 2>/dev/null' USR1 TERM
    wait "$child"
    rc=$?
    while kill -0 "$child" 2>/dev/null; do  # wait returns early when the trap fires: wait again
        wait "$child"
        rc=$?
    done
    trap - USR1 TERM
    if [ "$rc" -eq "$PEL_EXIT_CHECKPOINTED" ] && [ -n "${SLURM_JOB_ID:-}" ] && [ -z "${PEL_NO_REQUEUE:-}" ]; then
        echo "pel_launch: checkpointed; requeueing job $SLURM_JOB_ID"
        scontrol requeue "$SLURM_JOB_ID"
    fi
    return "$rc"
}
