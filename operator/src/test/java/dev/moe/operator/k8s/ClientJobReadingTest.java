package dev.moe.operator.k8s;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.TolerantJobReading;
import dev.moe.api.v1alpha1.TolerantJobReading.UnreadableSpec;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.WatchEvent;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The client reads a list or a watch event holding a job nested as deep as the API server stores. */
class ClientJobReadingTest {
    private final KubernetesSerialization serialization = serialization();

    private static KubernetesSerialization serialization() {
        var mapper = new ObjectMapper();
        new ClientJobReading().customize(mapper);
        return new KubernetesSerialization(mapper, true);
    }

    private static String job(String name, String config, String managedFields) {
        return "{\"apiVersion\":\"training.moe.dev/v1alpha1\",\"kind\":\"MoETrainingJob\",\"metadata\":{\"name\":\""
                + name + "\",\"namespace\":\"ns\""
                + (managedFields != null ? ",\"managedFields\":" + managedFields : "")
                + "},\"spec\":{\"model\":{\"preset\":\"tiny-moe\"" + (config != null ? ",\"config\":" + config : "")
                + "}}}";
    }

    private static String nested(String key, int depth, String leaf) {
        return ("{\"" + key + "\":").repeat(depth) + leaf + "}".repeat(depth);
    }

    @Test
    void aJobNestedBeyondJacksonsDefaultLimitIsOneUnreadableJobNotABrokenList() {
        String list = "[" + job("deep", "{\"hiddenSize\":" + nested("a", 3000, "1") + "}", null) + ","
                + job("fine", null, null) + "]";
        List<MoETrainingJob> jobs = serialization.unmarshal(
                new ByteArrayInputStream(list.getBytes(StandardCharsets.UTF_8)), new TypeReference<>() {});
        assertThat(jobs).hasSize(2);
        UnreadableSpec u = (UnreadableSpec) jobs.get(0).getSpec();
        assertThat(u.problems.get(0).field()).startsWith("spec.model.config.hiddenSize.a.a");
        assertThat(u.problems.get(0).reason()).contains("deeper than " + TolerantJobReading.MAX_DEPTH);
        assertThat(jobs.get(1).getSpec()).isNotInstanceOf(UnreadableSpec.class);
        // Written back cut at the depth limit (status patches carry the spec): its clone reads, and the plan engine
        // names the field with the wrong value.
        String written = serialization.asJson(jobs.get(0));
        assertThat(written).contains(TolerantJobReading.CUT).hasSizeLessThan(2000);
        var clone = serialization.clone(jobs.get(0)).getSpec();
        assertThat(clone).isNotInstanceOf(UnreadableSpec.class);
        assertThat(clone.model.config.get("hiddenSize").isObject()).isTrue();
    }

    @Test
    void aWatchEventOfTheDeepestJobTheApiServerStoresIsReadOnTheOperatorsStack() throws Exception {
        // The API server's JSON decoder stops at 10,000 levels; the operator runs with 8 MiB thread stacks.
        int depth = 10_000;
        String event = "{\"type\":\"ADDED\",\"object\":"
                + job(
                        "deep",
                        "{\"hiddenSize\":" + nested("a", depth, "1") + "}",
                        "[{\"manager\":\"kubectl\",\"operation\":\"Apply\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":"
                                + nested("f:a", depth, "{}") + "}]")
                + "}";
        Object[] read = new Object[1];
        Thread reader = new Thread(
                null,
                () -> {
                    try {
                        // The informer reads watch events as generic resources, then converts them.
                        var watchEvent = serialization.unmarshal(event, WatchEvent.class);
                        read[0] = serialization.convertValue(watchEvent.getObject(), MoETrainingJob.class);
                    } catch (Throwable e) {
                        read[0] = e;
                    }
                },
                "watch-reader",
                8L << 20);
        reader.start();
        reader.join();
        assertThat(read[0]).isInstanceOf(MoETrainingJob.class);
        assertThat(((MoETrainingJob) read[0]).getSpec()).isInstanceOf(UnreadableSpec.class);
    }

    @Test
    void managedFieldsAreNeitherReadIntoACachedObjectNorWrittenBack() {
        // What the informers cache is what the client reads: a pod with three field managers holds none of them.
        String pod = "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\","
                + "\"resourceVersion\":\"7\",\"labels\":{\"a\":\"b\"},\"managedFields\":["
                + "{\"manager\":\"moe-operator\",\"operation\":\"Update\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:a\":{}}},"
                + "{\"manager\":\"kube-scheduler\",\"operation\":\"Update\",\"subresource\":\"status\"},"
                + "{\"manager\":\"kubelet\",\"operation\":\"Update\",\"subresource\":\"status\"}]},"
                + "\"spec\":{\"nodeName\":\"n1\"}}";
        var watchEvent = serialization.unmarshal("{\"type\":\"ADDED\",\"object\":" + pod + "}", WatchEvent.class);
        Pod read = serialization.convertValue(watchEvent.getObject(), Pod.class);
        assertThat(read.getMetadata().getManagedFields()).isNullOrEmpty();
        assertThat(read.getMetadata().getAdditionalProperties()).doesNotContainKey("managedFields");
        assertThat(read.getMetadata().getResourceVersion()).isEqualTo("7");
        assertThat(read.getMetadata().getLabels()).containsEntry("a", "b");
        assertThat(read.getSpec().getNodeName()).isEqualTo("n1");
        assertThat(serialization.unmarshal(pod, Pod.class).getMetadata().getManagedFields())
                .isNullOrEmpty();
        // Server-side apply refuses a request that carries managedFields; the client never sends any.
        read.getMetadata()
                .setManagedFields(List.of(new io.fabric8.kubernetes.api.model.ManagedFieldsEntryBuilder()
                        .withManager("x")
                        .build()));
        assertThat(serialization.asJson(read)).doesNotContain("managedFields");
    }
}
