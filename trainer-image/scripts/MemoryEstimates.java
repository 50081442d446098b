// The plan engine's per-GPU memory estimates for one-GPU plans at Qwen3-30B-A3B shapes, as JSON for the GPU
// scripts (the lent GPU machine has no Java). Run by scripts/memory_estimates.sh:
//   java -cp plan-engine/target/moe-plan-engine-*-cli.jar trainer-image/scripts/MemoryEstimates.java KEY...
// KEY = L<layers>-s<seq>-mbs<mbs>-<none|off|selective|full>[-cap80]; cap80 = an 80 GiB GPU (H100), else 140 (H200).
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.moe.api.v1alpha1.TrainingSpec.ActivationCheckpointing;
import dev.moe.plan.MemoryEstimate;
import dev.moe.plan.MemoryEstimator;
import dev.moe.plan.ModelCatalog;
import dev.moe.plan.ModelConfig;
import dev.moe.plan.ParameterCount;
import dev.moe.plan.PlanError;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

public class MemoryEstimates {
    public static void main(String[] keys) {
        StringBuilder out = new StringBuilder("{\n");
        for (int i = 0; i < keys.length; i++) {
            String[] f = keys[i].split("-");
            int layers = Integer.parseInt(f[0].substring(1));
            int seq = Integer.parseInt(f[1].substring(1));
            int mbs = Integer.parseInt(f[2].substring(3));
            ActivationCheckpointing ac = f[3].equals("off") ? ActivationCheckpointing.none : ActivationCheckpointing.valueOf(f[3]);
            boolean cap80 = f.length > 4 && f[4].equals("cap80");
            List<PlanError> errors = new ArrayList<>();
            ModelConfig m = ModelCatalog.preset(ModelCatalog.QWEN3_30B_A3B).orElseThrow()
                    .withOverrides(JsonNodeFactory.instance.objectNode().put("numHiddenLayers", layers), errors);
            MemoryEstimate e = MemoryEstimator.estimate(m, ParameterCount.of(m), 1, 1, 1, 1, mbs, seq, ac, 1,
                    cap80 ? 80 : 140);
            out.append(String.format(Locale.ROOT, "  \"%s\": {\"layers\": %d, \"seq\": %d, \"mbs\": %d, \"ac\": \"%s\", "
                    + "\"cap80\": %b, \"totalBytes\": %d, \"allocatedBytes\": %d, \"fits\": %b, \"weights\": %d, "
                    + "\"gradients\": %d, \"optimizer\": %d, \"activations\": %d, \"headroom\": %d}%s\n",
                    keys[i], layers, seq, mbs, ac.name(), cap80, e.perGpuBytes(), e.perGpuBytes() - e.headroom(),
                    e.fits(), e.weights(), e.gradients(), e.optimizer(), e.activations(), e.headroom(),
                    i + 1 < keys.length ? "," : ""));
        }
        System.out.print(out.append("}\n"));
    }
}
