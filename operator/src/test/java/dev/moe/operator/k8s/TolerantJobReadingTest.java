package dev.moe.operator.k8s;

import static org.assertj.core.api.Assertions.assertThat;

import dev.moe.operator.api.v1alpha1.MoETrainingJob;
import dev.moe.operator.k8s.TolerantJobReading.UnreadableSpec;
import dev.moe.operator.k8s.TolerantJobReading.UnreadableStatus;
import dev.moe.operator.status.StatusUpdater;
import com.fasterxml.jackson.core.type.TypeReference;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A stored job that does not fit the Java types is read anyway, and says which field and why. */
class TolerantJobReadingTest {
    private final KubernetesSerialization serialization = serialization();

    private static KubernetesSerialization serialization() {
        var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
        new TolerantJobReading().customize(mapper);
        return new KubernetesSerialization(mapper, true);
    }

    private static String job(String spec, String status) {
        return "{\"apiVersion\":\"training.moe.dev/v1alpha1\",\"kind\":\"MoETrainingJob\","
                + "\"metadata\":{\"name\":\"j\",\"namespace\":\"ns\"},\"spec\":" + spec
                + (status != null ? ",\"status\":" + status : "") + "}";
    }

    @Test
    void aNumberBeyondTheJavaTypeMakesTheSpecUnreadableNamingTheFieldAndValue() {
        MoETrainingJob j = serialization.unmarshal(job(
                "{\"model\":{\"preset\":\"tiny-moe\"},\"resources\":{\"nodes\":3000000000}}", null),
                MoETrainingJob.class);
        assertThat(j.getSpec()).isInstanceOf(UnreadableSpec.class);
        UnreadableSpec u = (UnreadableSpec) j.getSpec();
        assertThat(u.problem.field()).isEqualTo("spec.resources.nodes");
        assertThat(u.problem.reason()).contains("3000000000").doesNotContain("\n");
        assertThat(u.resources).isNull();
    }

    @Test
    void aTypeChangeIsUnreadableToo() {
        MoETrainingJob j = serialization.unmarshal(job(
                "{\"model\":{\"preset\":\"tiny-moe\"},\"placement\":{\"topologyKeys\":{\"not\":\"a list\"}}}", null),
                MoETrainingJob.class);
        assertThat(((UnreadableSpec) j.getSpec()).problem.field()).isEqualTo("spec.placement.topologyKeys");
    }

    @Test
    void aCloneThroughJsonIsUnreadableInTheSameWay() {
        // JOSDK clones every resource through JSON before reconciling it.
        String stored = "{\"model\":{\"preset\":\"tiny-moe\"},\"resources\":{\"nodes\":3000000000}}";
        MoETrainingJob j = serialization.unmarshal(job(stored, null), MoETrainingJob.class);
        assertThat(serialization.asJson(j)).contains("\"nodes\":3000000000");
        MoETrainingJob clone = serialization.clone(j);
        assertThat(clone.getSpec()).isInstanceOf(UnreadableSpec.class);
        assertThat(((UnreadableSpec) clone.getSpec()).problem).isEqualTo(((UnreadableSpec) j.getSpec()).problem);
    }

    @Test
    void nestingBeyondWhatAnyParserShouldFollowIsOneUnreadableJobNotABrokenList() {
        String deep = "{\"a\":".repeat(3000) + "1" + "}".repeat(3000);
        String list = "["
                + job("{\"model\":{\"preset\":\"tiny-moe\",\"config\":{\"hiddenSize\":" + deep + "}}}", null) + ","
                + job("{\"model\":{\"preset\":\"tiny-moe\"}}", null) + "]";
        List<MoETrainingJob> jobs = serialization.unmarshal(new java.io.ByteArrayInputStream(list.getBytes(java.nio.charset.StandardCharsets.UTF_8)), new TypeReference<List<MoETrainingJob>>() {
        });
        assertThat(jobs).hasSize(2);
        UnreadableSpec u = (UnreadableSpec) jobs.get(0).getSpec();
        assertThat(u.problem.field()).startsWith("spec.model.config.hiddenSize.a.a");
        assertThat(u.problem.reason()).contains("deeper than " + TolerantJobReading.MAX_DEPTH);
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
        // The API server's JSON decoder stops at 10,000 levels; the operator runs with 8 MiB thread stacks
        // (-Xss8m: the chart's jvmOptions, e2e/bin/operator-up.sh), on which reading and converting such a watch
        // event must not overflow.
        Throwable[] failure = new Throwable[1];
        Thread reader = new Thread(null, () -> {
            try {
                watchEventOfDepth(10_000);
            } catch (Throwable e) {
                failure[0] = e;
            }
        }, "watch-reader", 8L << 20);
        reader.start();
        reader.join();
        assertThat(failure[0]).isNull();
    }

    /** A watch event of a job nested {@code depth} levels deep in spec.model.config, managedFields included. */
    void watchEventOfDepth(int depth) {
        String deep = "{\"a\":".repeat(depth) + "1" + "}".repeat(depth);
        String fields = "{\"f:a\":".repeat(depth) + "{}" + "}".repeat(depth);
        String event = "{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"training.moe.dev/v1alpha1\","
                + "\"kind\":\"MoETrainingJob\",\"metadata\":{\"name\":\"j\",\"namespace\":\"ns\","
                + "\"managedFields\":[{\"manager\":\"kubectl\",\"operation\":\"Apply\",\"fieldsType\":\"FieldsV1\","
                + "\"fieldsV1\":" + fields + "}]},\"spec\":{\"model\":{\"preset\":\"tiny-moe\",\"config\":"
                + "{\"hiddenSize\":" + deep + "}}}}}";
        var watchEvent = serialization.unmarshal(event, io.fabric8.kubernetes.api.model.WatchEvent.class);
        MoETrainingJob j = serialization.convertValue(watchEvent.getObject(), MoETrainingJob.class);
        assertThat(j.getSpec()).isInstanceOf(UnreadableSpec.class);
    }

    @Test
    void aReadableSpecIsTheOrdinaryType() {
        MoETrainingJob j = serialization.unmarshal(job(
                "{\"model\":{\"preset\":\"tiny-moe\"},\"resources\":{\"nodes\":3},\"unknownField\":{\"x\":1}}",
                "{\"phase\":\"Running\",\"restarts\":2}"), MoETrainingJob.class);
        assertThat(j.getSpec()).isNotInstanceOf(UnreadableSpec.class);
        assertThat(j.getSpec().resources.nodes).isEqualTo(3);
        assertThat(j.getStatus().restarts).isEqualTo(2);
    }

    @Test
    void anUnreadableStatusIsTreatedAsNoStatusAtAll() {
        MoETrainingJob j = serialization.unmarshal(job("{\"model\":{\"preset\":\"tiny-moe\"}}",
                "{\"phase\":\"Bogus\",\"restartAttempt\":-5}"), MoETrainingJob.class);
        assertThat(j.getStatus()).isInstanceOf(UnreadableStatus.class);
        assertThat(((UnreadableStatus) j.getStatus()).problem.field()).isEqualTo("status.phase");
        // The operator rebuilds status from scratch rather than keep what it cannot read.
        assertThat(StatusUpdater.copyOf(j).phase).isNull();
        assertThat(StatusUpdater.copyOf(j).restartAttempt).isNull();
    }
}
