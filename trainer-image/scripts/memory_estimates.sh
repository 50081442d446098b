#!/usr/bin/env bash
# The operator's memory estimates for the one-GPU plans that bench/bench_one_gpu.py measures (memory mode, and
# the benchmark's candidate plans), written to bench/memory_estimates.json and carried to the GPU machine.
# Needs Java 17 and the plan-engine jar (mvn -pl plan-engine package). Keys: see scripts/MemoryEstimates.java.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"; root="$(dirname "$here")"
jar=$(ls "$root"/plan-engine/target/moe-plan-engine-*-cli.jar | head -1)
java="${JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}/bin/java"
# the memory sweep (bench_one_gpu.py memory), then the plans the ladder and the benchmark run
KEYS=${MEM_KEYS:-"L2-s4096-mbs1-off L2-s4096-mbs16-off L2-s4096-mbs16-selective L2-s4096-mbs16-full L4-s4096-mbs8-off
L4-s4096-mbs16-off-cap80 L4-s4096-mbs32-selective-cap80 L4-s4096-mbs32-off-cap80 L8-s4096-mbs1-full-cap80
L8-s4096-mbs1-full L8-s4096-mbs1-off L8-s4096-mbs4-off L8-s4096-mbs4-selective L8-s4096-mbs4-full L8-s4096-mbs8-off
L8-s4096-mbs16-off L8-s4096-mbs16-selective L4-s16384-mbs8-off L4-s16384-mbs16-selective L4-s16384-mbs4-off-cap80
L4-s16384-mbs4-selective-cap80 L4-s16384-mbs8-selective-cap80"}
"$java" -cp "$jar" "$here/scripts/MemoryEstimates.java" $KEYS > "$here/bench/memory_estimates.json"
echo "wrote $here/bench/memory_estimates.json" >&2
