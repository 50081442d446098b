package dev.moe.api.v1alpha1;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Kubernetes name syntax, and the longest job name against the names the operator derives. */
class ObjectNameRulesTest {

    @Test
    void the_longest_job_name_leaves_room_for_the_longest_derived_name() {
        String longestPod = ObjectNameRules.POD_NAME_INFIX + ObjectNameRules.MAX_NODE_RANK;
        String longestGroup = ObjectNameRules.KUEUE_GROUP_INFIX + ObjectNameRules.MAX_ATTEMPT;
        assertThat(longestPod).isEqualTo("-node-4095");
        assertThat(longestGroup).isEqualTo("-a2147483647");
        assertThat(ObjectNameRules.MAX_JOB_NAME_LENGTH)
                .isEqualTo(ObjectNameRules.MAX_DNS_LABEL_LENGTH - Math.max(longestPod.length(), longestGroup.length()));
    }

    @Test
    void qualified_names_label_values_and_subdomains() {
        assertThat(ObjectNameRules.isQualifiedName("topology.kubernetes.io/rack"))
                .isTrue();
        assertThat(ObjectNameRules.isQualifiedName("nvidia.com/gpu.clique")).isTrue();
        assertThat(ObjectNameRules.isQualifiedName("rack")).isTrue();
        assertThat(ObjectNameRules.isQualifiedName("a".repeat(253) + "/" + "b".repeat(63)))
                .isTrue();
        for (String bad : List.of(
                "",
                "/rack",
                "Topology.io/rack",
                "a/b/c",
                "rack ",
                "a/" + "b".repeat(64),
                "a".repeat(254) + "/b",
                "-rack",
                "rack.")) {
            assertThat(ObjectNameRules.isQualifiedName(bad)).as(bad).isFalse();
        }
        assertThat(ObjectNameRules.isLabelValue("")).isTrue();
        assertThat(ObjectNameRules.isLabelValue("NVIDIA-H100-80GB-HBM3")).isTrue();
        assertThat(ObjectNameRules.isLabelValue("a".repeat(64))).isFalse();
        assertThat(ObjectNameRules.isLabelValue("H100 80GB")).isFalse();
        assertThat(ObjectNameRules.isDns1123Subdomain("ckpt.v2")).isTrue();
        assertThat(ObjectNameRules.isDns1123Subdomain("Ckpt")).isFalse();
        assertThat(ObjectNameRules.isDns1123Subdomain("")).isFalse();
        assertThat(ObjectNameRules.isQueueName("")).isTrue();
        assertThat(ObjectNameRules.isQueueName("team-a")).isTrue();
        assertThat(ObjectNameRules.isQueueName("Team_A")).isFalse();
    }

    @Test
    void env_names_images_and_keys() {
        for (String ok : List.of("NCCL_DEBUG", "_X", "a.b-c", "HF_HOME")) {
            assertThat(ObjectNameRules.isEnvName(ok)).as(ok).isTrue();
        }
        for (String bad : List.of("", "1ABC", "A B", "A=B", "A\u0000", "Ä")) {
            assertThat(ObjectNameRules.isEnvName(bad)).as(bad).isFalse();
        }
        assertThat(ObjectNameRules.isImage("registry.example:5000/moe/trainer:1.0@sha256:" + "a".repeat(64)))
                .isTrue();
        assertThat(ObjectNameRules.isImage("")).isTrue();
        assertThat(ObjectNameRules.isImage("trainer :1.0")).isFalse();
        assertThat(ObjectNameRules.isImage("trainer\n")).isFalse();
        assertThat(ObjectNameRules.isImage("x".repeat(513))).isFalse();
        assertThat(ObjectNameRules.isConfigMapKey("token.txt")).isTrue();
        assertThat(ObjectNameRules.isConfigMapKey("a/b")).isFalse();
    }
}
