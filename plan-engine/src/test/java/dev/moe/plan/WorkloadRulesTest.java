package dev.moe.plan;

import static dev.moe.plan.Specs.plan;
import static dev.moe.plan.Specs.set;
import static dev.moe.plan.Specs.tiny;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.api.v1alpha1.SpecLimits;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What the operator copies into pods: each rule accepts a valid value and rejects an invalid one, by field. */
class WorkloadRulesTest {

    /** A valid job with one field set to {@code value} (a YAML/JSON-shaped Java value). */
    private static PlanResult with(String path, Object value) {
        return plan(set(tiny(2, 2, 2, 2), path, value));
    }

    private static void valid(String path, Object value) {
        PlanResult r = with(path, value);
        assertThat(r.isValid())
                .as(path + "=" + value + ": " + r.errorMessages())
                .isTrue();
    }

    /** Invalid with exactly one error of {@code rule}, whose message starts with {@code message}. */
    private static void invalid(String path, Object value, String rule, String message) {
        PlanResult r = with(path, value);
        assertThat(r.errors())
                .as(path + "=" + value)
                .extracting(PlanError::rule)
                .containsExactly(rule);
        assertThat(r.errors().get(0).message()).startsWith(message);
    }

    @Test
    void the_base_job_is_valid() {
        assertThat(plan(tiny(2, 2, 2, 2)).errors()).isEmpty();
    }

    @Test
    void image_is_printable_ascii_without_spaces() {
        valid("trainer.image", "registry.example/moe-trainer:1.0");
        valid("trainer.image", "");
        invalid(
                "trainer.image",
                "registry.example/moe trainer:1.0",
                "ImageInvalid",
                "spec.trainer.image=registry.example/moe trainer:1.0 is not an image reference");
        invalid(
                "trainer.image",
                "x".repeat(600),
                "StringTooLong",
                "spec.trainer.image=" + "x".repeat(120) + "... (600 characters) has 600 characters, more than 512");
    }

    @Test
    void command_and_args_are_bounded() {
        valid("trainer.command", List.of("python", "-m", "train"));
        invalid(
                "trainer.command",
                java.util.Collections.nCopies(17, "x"),
                "TooManyItems",
                "spec.trainer.command has 17 items, more than 16");
        invalid("trainer.args", List.of("ok", "y".repeat(4097)), "StringTooLong", "spec.trainer.args[1]=");
        invalid("trainer.args", "--flag", "FieldType", "spec.trainer.args=\"--flag\" is not a list");
    }

    @Test
    void env_names_follow_kubernetes_and_leave_the_operators_variables_alone() {
        valid("trainer.env", List.of(Map.of("name", "NCCL_DEBUG", "value", "INFO")));
        invalid(
                "trainer.env",
                List.of(Map.of("name", "1BAD", "value", "x")),
                "EnvNameInvalid",
                "spec.trainer.env[0].name=1BAD is not an environment variable name");
        invalid(
                "trainer.env",
                List.of(Map.of("name", "NODE_RANK", "value", "3")),
                "EnvNameReserved",
                "spec.trainer.env[0].name=NODE_RANK is set by the operator on every pod");
        invalid("trainer.env", List.of(Map.of("value", "x")), "EnvNameInvalid", "spec.trainer.env[0].name is required");
        invalid(
                "nccl.extraEnv",
                Map.of("WORLD_SIZE", "8"),
                "EnvNameReserved",
                "spec.nccl.extraEnv.WORLD_SIZE=WORLD_SIZE");
        invalid("nccl.extraEnv", Map.of("NCCL DEBUG", "INFO"), "EnvNameInvalid", "spec.nccl.extraEnv.NCCL DEBUG=");
        valid("nccl.extraEnv", Map.of("NCCL_DEBUG", "INFO"));
    }

    @Test
    void env_value_from_names_exactly_one_valid_source() {
        valid(
                "trainer.env",
                List.of(Map.of(
                        "name",
                        "TOKEN",
                        "valueFrom",
                        Map.of("secretKeyRef", Map.of("name", "hf-token", "key", "token")))));
        valid(
                "trainer.env",
                List.of(Map.of("name", "NODE", "valueFrom", Map.of("fieldRef", Map.of("fieldPath", "spec.nodeName")))));
        valid(
                "trainer.env",
                List.of(Map.of(
                        "name",
                        "TEAM",
                        "valueFrom",
                        Map.of("fieldRef", Map.of("fieldPath", "metadata.labels['team.example/name']")))));
        valid(
                "trainer.env",
                List.of(Map.of(
                        "name",
                        "MEM",
                        "valueFrom",
                        Map.of("resourceFieldRef", Map.of("resource", "limits.memory", "divisor", "1Mi")))));
        invalid(
                "trainer.env",
                List.of(Map.of(
                        "name",
                        "X",
                        "value",
                        "v",
                        "valueFrom",
                        Map.of("fieldRef", Map.of("fieldPath", "metadata.name")))),
                "EnvValueInvalid",
                "spec.trainer.env[0].valueFrom is set together with value");
        invalid(
                "trainer.env",
                List.of(Map.of("name", "X", "valueFrom", Map.of())),
                "EnvValueInvalid",
                "spec.trainer.env[0].valueFrom names no source");
        invalid(
                "trainer.env",
                List.of(Map.of("name", "X", "valueFrom", Map.of("fieldRef", Map.of("fieldPath", "metadata.labels")))),
                "EnvValueInvalid",
                "spec.trainer.env[0].valueFrom.fieldRef.fieldPath=metadata.labels is not a pod field");
        invalid(
                "trainer.env",
                List.of(Map.of(
                        "name", "X", "valueFrom", Map.of("secretKeyRef", Map.of("name", "Bad_Name", "key", "k")))),
                "EnvValueInvalid",
                "spec.trainer.env[0].valueFrom.secretKeyRef.name=Bad_Name is not an object name");
        invalid(
                "trainer.env",
                List.of(Map.of(
                        "name",
                        "X",
                        "valueFrom",
                        Map.of("resourceFieldRef", Map.of("resource", "limits.cpu", "containerName", "sidecar")))),
                "EnvValueInvalid",
                "spec.trainer.env[0].valueFrom.resourceFieldRef.containerName=sidecar is not a"
                        + " container of the pod");
        invalid(
                "trainer.env",
                List.of(Map.of(
                        "name",
                        "X",
                        "valueFrom",
                        Map.of("resourceFieldRef", Map.of("resource", "limits.cpu", "divisor", "1Mi")))),
                "EnvValueInvalid",
                "spec.trainer.env[0].valueFrom.resourceFieldRef.divisor=\"1Mi\" is not a divisor for limits.cpu");
    }

    @Test
    void topology_keys_node_selector_and_queue_are_label_syntax() {
        valid("placement.topologyKeys", List.of("topology.kubernetes.io/rack"));
        invalid(
                "placement.topologyKeys",
                List.of("rack zone"),
                "TopologyKeyInvalid",
                "spec.placement.topologyKeys[0]=rack zone is not a node label key");
        invalid(
                "placement.topologyKeys",
                java.util.Collections.nCopies(9, "rack"),
                "TooManyItems",
                "spec.placement.topologyKeys has 9 items, more than 8");
        valid("placement.nodeSelector", Map.of("node.kubernetes.io/instance-type", "p5.48xlarge"));
        invalid(
                "placement.nodeSelector",
                Map.of("pool", "gpu pool"),
                "NodeSelectorInvalid",
                "spec.placement.nodeSelector.pool=gpu pool is not a label value");
        invalid(
                "placement.nodeSelector",
                Map.of("bad key", "x"),
                "NodeSelectorInvalid",
                "spec.placement.nodeSelector=bad key is not a node label key");
        valid("placement.queueName", "team-a");
        invalid(
                "placement.queueName",
                "Team A",
                "QueueNameInvalid",
                "spec.placement.queueName=Team A is not a" + " LocalQueue name");
        valid("resources.gpuProduct", "NVIDIA-H100-80GB-HBM3");
        invalid("resources.gpuProduct", "NVIDIA H100", "GpuProductInvalid", "spec.resources.gpuProduct=NVIDIA H100");
    }

    @Test
    void tolerations_follow_kubernetes() {
        valid(
                "placement.tolerations",
                List.of(Map.of("key", "nvidia.com/gpu", "operator", "Exists", "effect", "NoSchedule")));
        valid("placement.tolerations", List.of(Map.of("operator", "Exists")));
        valid(
                "placement.tolerations",
                List.of(Map.of(
                        "key", "dedicated", "value", "training", "effect", "NoExecute", "tolerationSeconds", 60)));
        invalid(
                "placement.tolerations",
                List.of(Map.of("key", "k", "operator", "In")),
                "TolerationInvalid",
                "spec.placement.tolerations[0].operator=In is not a toleration operator; use Exists or Equal");
        invalid(
                "placement.tolerations",
                List.of(Map.of("key", "k", "effect", "NoRun")),
                "TolerationInvalid",
                "spec.placement.tolerations[0].effect=NoRun is not a taint effect");
        invalid(
                "placement.tolerations",
                List.of(Map.of("key", "k", "operator", "Exists", "value", "v")),
                "TolerationInvalid",
                "spec.placement.tolerations[0].value=v is set but operator is Exists");
        invalid(
                "placement.tolerations",
                List.of(Map.of("value", "v")),
                "TolerationInvalid",
                "spec.placement.tolerations[0].operator must be Exists when the key is empty");
        invalid(
                "placement.tolerations",
                List.of(Map.of("key", "k", "tolerationSeconds", 5)),
                "TolerationInvalid",
                "spec.placement.tolerations[0].tolerationSeconds=5 only applies to effect NoExecute");
        invalid(
                "placement.tolerations",
                List.of(Map.of("key", "k", "effect", "NoExecute", "tolerationSeconds", -1)),
                "PositiveValue",
                "spec.placement.tolerations[0].tolerationSeconds=-1 is" + " negative");
    }

    @Test
    void claims_and_paths() {
        valid("training.checkpoint", Map.of("claimName", "ckpt.v2"));
        invalid(
                "training.checkpoint",
                Map.of("claimName", "Ckpt"),
                "ClaimNameInvalid",
                "spec.training.checkpoint.claimName=Ckpt is not a PersistentVolumeClaim name");
        valid("model.checkpoint", Map.of("claimName", "weights", "path", "/models/Qwen3-30B-A3B"));
        for (String bad :
                List.of("models/Qwen", "/models/../etc", "/models//x", "/models/", "/models/./x", "/models/x\n")) {
            invalid("model.checkpoint", Map.of("path", bad), "PathInvalid", "spec.model.checkpoint.path=");
        }
        valid("training.dataset", Map.of("type", "tokens", "claimName", "corpus", "path", "/data/tokens.bin"));
        invalid(
                "training.dataset",
                Map.of("type", "tokens", "path", "data/tokens.bin"),
                "PathInvalid",
                "spec.training.dataset.path=data/tokens.bin is not an absolute, normalised path");
    }

    @Test
    void the_model_mount_clashes_with_no_mount_of_the_operator_and_hides_no_image_directory() {
        valid("model.checkpoint", Map.of("claimName", "w", "path", "/models/Qwen3"));
        valid("model.checkpoint", Map.of("claimName", "w", "path", "/weights")); // mounted at /weights itself
        valid("model.checkpoint", Map.of("path", "/etc/moe/model")); // no claim: nothing is mounted
        invalid(
                "model.checkpoint",
                Map.of("claimName", "w", "path", "/data/Qwen3"),
                "MountPathConflict",
                "spec.model.checkpoint.path=/data/Qwen3 puts the model claim's mount at /data (the path's parent"
                        + " directory), which is where the operator mounts a volume of its own (the operator's mounts"
                        + " are /etc/moe, /dev/shm, /checkpoints, /data, /etc/moe-pod); put the model in a directory of its own,"
                        + " e.g. /models/<name>");
        invalid(
                "model.checkpoint",
                Map.of("claimName", "w", "path", "/checkpoints/run1/model"),
                "MountPathConflict",
                "spec.model.checkpoint.path=/checkpoints/run1/model puts the model claim's mount at"
                        + " /checkpoints/run1 (the path's parent directory), which lies inside the operator's mount at"
                        + " /checkpoints");
        invalid(
                "model.checkpoint",
                Map.of("claimName", "w", "path", "/dev/shm"),
                "MountPathConflict",
                "spec.model.checkpoint.path=/dev/shm puts the model claim's mount at /dev");
        invalid(
                "model.checkpoint",
                Map.of("claimName", "w", "path", "/usr/Qwen3"),
                "MountPathConflict",
                "spec.model.checkpoint.path=/usr/Qwen3 puts the model claim's mount at /usr (the path's parent"
                        + " directory), which would hide the image's /usr");
        invalid(
                "model.checkpoint",
                Map.of("claimName", "w", "path", "/etc/moe"),
                "MountPathConflict",
                "spec.model.checkpoint.path=/etc/moe puts the model claim's mount at /etc");
    }

    @Test
    void every_problem_of_a_job_is_reported_at_once_up_to_the_cap() {
        ObjectNode spec = tiny(2, 2, 2, 2);
        set(spec, "trainer.image", "a b");
        set(spec, "placement.queueName", "A B");
        set(spec, "parallelism.expert", 3); // and a plan rule
        PlanResult r = plan(spec);
        assertThat(r.errors())
                .extracting(PlanError::rule)
                .contains("ImageInvalid", "QueueNameInvalid", "ExpertDividesWorld");

        List<Map<String, String>> env = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            env.add(Map.of("name", "1BAD" + i, "value", "x"));
        }
        PlanResult many = with("trainer.env", env);
        assertThat(many.errors()).hasSize(SpecLimits.MAX_REPORTED_ERRORS);
        assertThat(many.errors().get(SpecLimits.MAX_REPORTED_ERRORS - 1).message())
                .isEqualTo("spec has 21 more problems; fix the ones above and check again");
    }
}
