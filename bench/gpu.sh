#!/usr/bin/env bash
# The GPU benches in one go, from the repo root of a machine with a CUDA build of torch.
#
# Wheels: when .whl/ exists (cp312 wheels of what the machine lacks: matgl 2.0.6, pymatgen,
# ase, pydantic, pymongo, ...; README "GPU"; benches that open the store also need
# mongomock and sentinels) they are installed into /tmp/site first. Weights: from
# SCREENING_MODELS_DIR, else .models/ in the repo. Logs and the planner's calibration go to
# $OUT (default /tmp/gpu-out). SMOKE=1 runs tiny sizes (to check the script on a CPU).
set -uo pipefail
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
WHEELS=${WHEELS:-.whl}
if [ -d "$WHEELS" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site "$WHEELS"/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
fi
export SCREENING_MODELS_DIR=${SCREENING_MODELS_DIR:-$PWD/.models}
export SCREENING_DEVICE=${SCREENING_DEVICE:-cuda} PYTHONUNBUFFERED=1
export SCREENING_DATA_DIR=${SCREENING_DATA_DIR:-/tmp/screening-gpu-data}
export PYTHONWARNINGS=ignore
PY=${PY:-python3}
if [ "${SMOKE:-0}" = 1 ]; then
  MD_CELLS=(2) PRESCREEN=(--n 16 --relax-batch 8)
else
  MD_CELLS=(16 64) PRESCREEN=(--n 300 --relax-batch 64)
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv
$PY -c "import torch, matgl; print('torch', torch.__version__, 'matgl', matgl.__version__)"
$PY - <<'PYEOF' || exit 1  # fail fast: one LiCl single point on the chosen device
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor
from screening.mlff import load_model
from screening.mlff.batch import evaluate
m = load_model()
s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.13), ["Li", "Cl"], [[0] * 3, [0.5] * 3])
a = AseAtomsAdaptor.get_atoms(s)
e = evaluate([a], m)[0].energy_ev
a.calc = m.calculator()
print(f"LiCl on {m.device}: batch {e:.5f} eV, calculator {a.get_potential_energy():.5f} eV")
PYEOF

run() {  # run NAME CMD...: the command's output to $OUT/NAME.log, its last line to the screen
  local name=$1; shift
  local t0=$SECONDS
  "$@" >"$OUT/$name.log" 2>&1
  echo "[$name rc=$? $((SECONDS - t0)) s] $(tail -1 "$OUT/$name.log")"
}
run "md_batch_${MD_CELLS[0]}" $PY bench/md_batch.py --cells "${MD_CELLS[0]}"
run prescreen $PY bench/prescreen.py "${PRESCREEN[@]}"
run mlff_throughput $PY bench/mlff_throughput.py
run build_throughput $PY bench/build_throughput.py
for c in demo li-halides; do
  run "plan_$c" $PY -m screening.cli.main campaign plan "workflows/$c.yaml" --calibrate \
    --gpus 1 --json
done
cp "$SCREENING_DATA_DIR/calibration.json" "$OUT/" 2>/dev/null || true
for n in "${MD_CELLS[@]:1}"; do run "md_batch_$n" $PY bench/md_batch.py --cells "$n"; done
