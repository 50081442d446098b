#!/usr/bin/env bash
# Peak GPU memory of real training steps vs the operator's estimate (one GPU, Qwen3-30B-A3B shapes, seq 4096).
#   scripts/gpu_memory_check.sh            # layers 2 and 4 × micro-batch 1/2/4 × activation checkpointing on/off
#   MEM_CONFIGS="4,4,1 4,2,0" scripts/gpu_memory_check.sh   # layers,mbs,ac
# Estimates: bench/memory_estimates.json (scripts/memory_estimates.sh, needs Java). Writes $OUT/memory.jsonl
# and one log per configuration; the step time of each configuration gives tokens/s and MFU. Table last.
set -uo pipefail
cd "$(dirname "$0")/.."
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1 OMP_NUM_THREADS=4
# the trainer's allocator setting (train.configure_cuda_allocator) unless MEM_ALLOC_CONF overrides it ("" = default)
[ -n "${MEM_ALLOC_CONF+x}" ] && export PYTORCH_CUDA_ALLOC_CONF="$MEM_ALLOC_CONF"
OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
R="$OUT/memory.jsonl"; : > "$R"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1
echo "torch $(python3 -c 'import torch; print(torch.__version__, torch.version.cuda)'); date $(date -u +%FT%TZ)"
CONFIGS="${MEM_CONFIGS:-2,1,1 2,1,0 2,2,1 2,2,0 2,4,1 2,4,0 4,1,1 4,1,0 4,2,1 4,2,0 4,4,1 4,4,0}"
for c in $CONFIGS; do
  set -- ${c//,/ }
  timeout "${MEM_TIMEOUT:-90}" python3 bench/memory_check.py one --layers "$1" --mbs "$2" --ac "$3" \
    --steps "${MEM_STEPS:-3}" --warmup "${MEM_WARMUP:-2}" --out "$R" > "$OUT/mem_L$1_mbs$2_ac$3.log" 2>&1 \
    || { echo "L$1 mbs$2 ac$3: rc=$?"; grep -m1 -E "Error|error" "$OUT/mem_L$1_mbs$2_ac$3.log"; }
  grep -h '^RESULT' "$OUT/mem_L$1_mbs$2_ac$3.log" | cut -c1-220
done
python3 bench/memory_check.py table "$R"
