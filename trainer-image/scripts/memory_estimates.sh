#!/usr/bin/env bash
# The operator's memory estimates for the plans of scripts/gpu_memory_check.sh (one GPU, Qwen3-30B-A3B shapes
# with 2 or 4 layers, seq 4096, micro-batch 1/2/4, activation checkpointing on/off), from `bin/moe-plan --output
# json` on generated MoETrainingJob files. Needs Java; writes bench/memory_estimates.json (carried to the GPU).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"; root="$(dirname "$here")"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
for layers in 2 4; do for mbs in 1 2 4; do for ac in 1 0; do
  f="$tmp/L$layers-mbs$mbs-ac$ac.yaml"
  cat > "$f" <<YAML
apiVersion: training.moe.dev/v1alpha1
kind: MoETrainingJob
metadata: {name: mem-l$layers-mbs$mbs-ac$ac, namespace: default}
spec:
  model: {preset: qwen3-30b-a3b, config: {numHiddenLayers: $layers}}
  parallelism: {tensor: 1, expert: 1, context: 1, data: 1}
  resources: {nodes: 1, gpusPerNode: 1, gpuMemoryGiB: 80}
  training: {seqLength: 4096, microBatchSize: $mbs, activationCheckpointing: $([ $ac = 1 ] && echo true || echo false), steps: 5}
YAML
done; done; done
"$root/bin/moe-plan" --output json "$tmp"/*.yaml > "$tmp/out.json" 2> "$tmp/err.txt" || true
python3 - "$tmp/out.json" "$tmp/err.txt" > "$here/bench/memory_estimates.json" <<'PY'
import json, re, sys
doc = json.load(open(sys.argv[1]))
jobs = doc if isinstance(doc, list) else doc.get("jobs", doc.get("results", [doc]))
out = {}
for j in jobs:
    name = (j.get("name") or j.get("job", {}).get("name") or j.get("plan", {}).get("job", {}).get("name"))
    plan = j.get("plan") or j
    mem = plan.get("memory") if isinstance(plan, dict) else None
    err = [e for e in j.get("errors", []) if e.get("reason") == "MemoryExceeded"]
    key = name.replace("mem-l", "L").replace("-mbs", "-mbs").replace("-ac", "-ac")
    if mem:
        b = mem["breakdown"]
        out[key] = {"totalBytes": mem["perGpuBytes"], "allocatedBytes": mem["perGpuBytes"] - b["headroom"],
                    "fits": True, **b}
# plans rejected for memory: the CLI prints the estimate in the error (GiB, one decimal)
for m in re.finditer(r"default/mem-l(\d+)-mbs(\d+)-ac(\d): INVALID\n\s*error: .*?needs an estimated ([\d.]+) GiB per GPU"
                     r".*?headroom ([\d.]+) GiB", open(sys.argv[2]).read()):
    total, head = float(m.group(4)) * 2**30, float(m.group(5)) * 2**30
    out[f"L{m.group(1)}-mbs{m.group(2)}-ac{m.group(3)}"] = {"totalBytes": int(total), "allocatedBytes": int(total - head),
                                                           "fits": False}
print(json.dumps(out, indent=1, sort_keys=True))
PY
echo "wrote $here/bench/memory_estimates.json" >&2
