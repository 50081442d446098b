#!/usr/bin/env bash
# GPU checks on the lent machine (≤ 10 min per call; several steps may share one call: gpu_check.sh kernels ladder):
#   scripts/gpu_check.sh correctness   # NCCL+bf16 parity vs float32 reference on 1, 2, 4 GPUs; short training run + resume
#   scripts/gpu_check.sh bench         # ours vs HF transformers EP at Qwen3-30B-A3B shapes, 8 layers, seq 4096
#   scripts/gpu_check.sh kernels       # fused pieces vs float32 references (tests/gpu/kernel_check.py)
#   scripts/gpu_check.sh ladder        # one GPU, one change at a time (bench/bench_one_gpu.py ladder; BEFORE=old tree)
#   scripts/gpu_check.sh memory        # peak memory vs the plan engine's estimates (bench/memory_estimates.json)
#   scripts/gpu_check.sh one-gpu       # the one-GPU benchmark: ours vs HF transformers (bench/bench_one_gpu.py)
# Writes logs and results under ${OUT:-/tmp/out}; prints a short table last.
set -uo pipefail
cd "$(dirname "$0")/.."
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1 OMP_NUM_THREADS=4 TOKENIZERS_PARALLELISM=false
OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
PY=python3
NGPU=$($PY -c 'import torch; print(torch.cuda.device_count())')
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1
echo "gpus: $NGPU; torch $($PY -c 'import torch; print(torch.__version__, torch.version.cuda)'); date $(date -u +%FT%TZ)"
TR="$PY -m torch.distributed.run --standalone"
$PY - <<'PY'
import torch, torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
q = torch.randn(1, 32, 4096, 128, device="cuda", dtype=torch.bfloat16)
for name, b in (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION), ("efficient", SDPBackend.EFFICIENT_ATTENTION)):
    try:
        with sdpa_kernel([b]):
            F.scaled_dot_product_attention(q, q, q, is_causal=True)
        print(f"sdpa {name}: ok", end="; ")
    except RuntimeError as e:
        print(f"sdpa {name}: unavailable", end="; ")
print()
PY

correctness() {
  local summary="$OUT/parity.txt"; : > "$summary"
  $PY tests/gpu/make_hf_checkpoint.py /tmp/small small >/dev/null 2>&1 || { echo "checkpoint creation failed"; return 1; }
  # gpus data tensor expert
  for spec in ${PARITY_SPECS:-1,1,1,1 2,2,1,2 2,1,2,1 4,4,1,4 4,2,2,2 4,1,4,1}; do  # gpus,data,tensor,expert
    set -- ${spec//,/ }
    [ "$1" -le "$NGPU" ] || { echo "skip $spec (only $NGPU GPUs)" | tee -a "$summary"; continue; }
    $TR --nproc-per-node="$1" tests/gpu/gpu_parity.py /tmp/small "$2" "$3" "$4" > "$OUT/parity_$1_$2_$3_$4.log" 2>&1
    rc=$?
    line=$(grep '^PARITY' "$OUT/parity_$1_$2_$3_$4.log" || echo "PARITY gpus=$1 data=$2 tensor=$3 expert=$4 rc=$rc FAIL (see log)")
    echo "$line" | tee -a "$summary"
    [ $rc -eq 0 ] || tail -30 "$OUT/parity_$1_$2_$3_$4.log"
  done
  [ "${SKIP_TRAIN:-0}" = 1 ] && { echo "== parity summary =="; cat "$summary"; return; }
  # short training run with the real entrypoint, then resume from its checkpoint
  local n=$(( NGPU >= 4 ? 4 : NGPU ))
  $PY - "$n" > /tmp/train_plan.json <<'PY'
import json, sys
n = int(sys.argv[1])
model = dict(model_type="qwen3_moe", vocab_size=32000, hidden_size=1024, intermediate_size=2816, moe_intermediate_size=512,
             num_hidden_layers=4, num_attention_heads=16, num_key_value_heads=4, head_dim=64, num_experts=64,
             num_experts_per_tok=4, norm_topk_prob=True, rms_norm_eps=1e-6, rope_theta=1e6, router_aux_loss_coef=0.001)
print(json.dumps({"apiVersion": "training.moe.dev/plan-v1", "job": {"namespace": "default", "name": "gpu-check"},
  "model": model, "parallelism": {"tensor": 1, "expert": n, "context": 1, "data": n, "expertData": 1},
  "world": {"size": n, "nodes": 1, "gpusPerNode": n},
  "training": {"seqLength": 2048, "microBatchSize": 2, "globalBatchSize": 2 * n * 2, "gradientAccumulation": 2,
               "steps": 30, "learningRate": 1e-3, "minLearningRate": 1e-4, "warmupSteps": 5, "weightDecay": 0.1,
               "gradClip": 1.0, "seed": 1, "dataset": {"type": "synthetic"}, "logEvery": 5,
               "checkpoint": {"dir": "/tmp/ckpt", "everySteps": 15}}}))
PY
  rm -rf /tmp/ckpt; mkdir -p /tmp/ckpt
  MOE_PROGRESS="file:$OUT/progress.json" MOE_METRICS_PORT=9400 timeout 240 $TR --nproc-per-node="$n" -m moe_trainer.train --plan /tmp/train_plan.json > "$OUT/train.log" 2>&1
  echo "training run rc=$?"; grep -E "step [0-9]+/|resumed|finished|Error" "$OUT/train.log" | sed 's/^.*moe_trainer: //' | tail -8
  $PY -c "import json;p=json.load(open('/tmp/train_plan.json'));p['training']['steps']=40;json.dump(p,open('/tmp/train_plan.json','w'))"
  timeout 180 $TR --nproc-per-node="$n" -m moe_trainer.train --plan /tmp/train_plan.json > "$OUT/resume.log" 2>&1
  echo "resume run rc=$?"; grep -E "resumed|step [0-9]+/|finished" "$OUT/resume.log" | sed 's/^.*moe_trainer: //' | tail -4
  cat "$OUT/progress.json"; echo
  echo "== parity summary =="; cat "$summary"
}

bench() {
  local R="$OUT/bench.jsonl"; : > "$R"
  local n=$(( NGPU >= 4 ? 4 : NGPU ))
  $PY tests/gpu/make_hf_checkpoint.py /tmp/bench bench bfloat16 > "$OUT/bench_ckpt.log" 2>&1 || { tail "$OUT/bench_ckpt.log"; return 1; }
  timeout 200 $TR --nproc-per-node="$n" bench/bench_trainer.py hf --ckpt /tmp/bench --out "$R" > "$OUT/bench_hf.log" 2>&1 || tail -20 "$OUT/bench_hf.log"
  for mbs in ${BENCH_MBS:-1 2}; do
    timeout 150 $TR --nproc-per-node="$n" bench/bench_trainer.py ours --ckpt /tmp/bench --mbs $mbs --out "$R" > "$OUT/bench_ours_$mbs.log" 2>&1 || tail -20 "$OUT/bench_ours_$mbs.log"
  done
  if [ "${BENCH_EXTRA:-1}" = 1 ]; then  # one-GPU slice and micro-batch 4 need > 80 GB (H200)
    timeout 150 $TR --nproc-per-node=1 bench/bench_trainer.py ours --ckpt /tmp/bench --mbs 1 --out "$R" > "$OUT/bench_ours_1gpu.log" 2>&1 || grep -m1 -E "OutOfMemory|Error" "$OUT/bench_ours_1gpu.log"
    timeout 100 $TR --nproc-per-node="$n" bench/bench_trainer.py ours --ckpt /tmp/bench --mbs 4 --out "$R" > "$OUT/bench_ours_4.log" 2>&1 || grep -m1 -E "OutOfMemory|Error" "$OUT/bench_ours_4.log"
  fi
  $PY bench/bench_trainer.py table "$R"
}

kernels() { timeout "${KERNELS_TIMEOUT:-150}" $PY tests/gpu/kernel_check.py 2>&1 | tee "$OUT/kernel_check.log" | grep -E "CHECK|INFO|KERNEL"; }
ladder() { timeout "${LADDER_TIMEOUT:-360}" $PY bench/bench_one_gpu.py ladder ${BEFORE:+--before "$BEFORE"} \
  --steps "${STEPS:-4}" --warmup 3 ${RUNGS:+--rungs "$RUNGS"} | tee -a "$OUT/summary.txt"; }
memory() { timeout "${MEMORY_TIMEOUT:-200}" $PY bench/bench_one_gpu.py memory --steps 2 --warmup 2 ${PLANS:+--plans "$PLANS"} \
  | tee -a "$OUT/summary.txt"; }
one_gpu() { timeout "${ONE_GPU_TIMEOUT:-560}" $PY bench/bench_one_gpu.py ${SHAPES:+--shapes "$SHAPES"} --steps "${STEPS:-5}" \
  | tee -a "$OUT/summary.txt"; }

for cmd in "${@:-correctness}"; do
  case "$cmd" in
    correctness) correctness ;;
    bench) bench ;;
    kernels) kernels ;;
    ladder) ladder ;;
    memory) memory ;;
    one-gpu) one_gpu ;;
    all) correctness; bench ;;
  esac
done
