package dev.moe.api.v1alpha1;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The CEL literals of the CRD's rules say what the Java lists say. */
class WorkloadSyntaxTest {

    @Test
    void model_mount_path_is_the_parent_directory() {
        assertThat(WorkloadSyntax.modelMountPath("/models/Qwen3-30B-A3B")).isEqualTo("/models");
        assertThat(WorkloadSyntax.modelMountPath("/a/b/c")).isEqualTo("/a/b");
        assertThat(WorkloadSyntax.modelMountPath("/weights")).isEqualTo("/weights");
    }

    @Test
    void the_cel_lists_are_the_java_lists() {
        assertThat(celList(WorkloadSyntax.RESERVED_ENV_CEL)).isEqualTo(WorkloadSyntax.RESERVED_ENV);
        assertThat(celList(WorkloadSyntax.OPERATOR_MOUNTS_CEL)).isEqualTo(WorkloadSyntax.OPERATOR_MOUNTS);
        assertThat(celList(WorkloadSyntax.IMAGE_DIRECTORIES_CEL)).isEqualTo(WorkloadSyntax.IMAGE_DIRECTORIES);
    }

    private static List<String> celList(String literal) {
        List<String> parsed = new ArrayList<>();
        for (String part : literal.replaceAll("[\\[\\]' ]", "").split(",")) {
            parsed.add(part);
        }
        return parsed;
    }
}
