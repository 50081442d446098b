package dev.moe.api.v1alpha1;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe.api.v1alpha1.TolerantJobReading.UnreadableSpec;
import dev.moe.api.v1alpha1.TolerantJobReading.UnreadableStatus;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import org.junit.jupiter.api.Test;

/** A stored job or a file that does not fit the Java types is read anyway, and says which field and why. */
class TolerantJobReadingTest {
    private final KubernetesSerialization serialization = serialization();

    private static KubernetesSerialization serialization() {
        var mapper = new ObjectMapper();
        mapper.registerModule(TolerantJobReading.module());
        return new KubernetesSerialization(mapper, true);
    }

    private static String job(String spec, String status) {
        return "{\"apiVersion\":\"training.moe.dev/v1alpha1\",\"kind\":\"MoETrainingJob\","
                + "\"metadata\":{\"name\":\"j\",\"namespace\":\"ns\"},\"spec\":" + spec
                + (status != null ? ",\"status\":" + status : "") + "}";
    }

    private static MoETrainingJobSpec spec(String json) throws Exception {
        return TolerantJobReading.readSpec(new ObjectMapper().readTree(json));
    }

    private static TolerantJobReading.Problem problem(String json) throws Exception {
        MoETrainingJobSpec s = spec(json);
        assertThat(s).as(json).isInstanceOf(UnreadableSpec.class);
        assertThat(((UnreadableSpec) s).problems).as(json).hasSize(1);
        return ((UnreadableSpec) s).problems.get(0);
    }

    @Test
    void aNumberBeyondTheJavaTypeMakesTheSpecUnreadableNamingTheFieldAndValue() {
        MoETrainingJob j = serialization.unmarshal(
                job("{\"model\":{\"preset\":\"tiny-moe\"},\"resources\":{\"nodes\":3000000000}}", null),
                MoETrainingJob.class);
        assertThat(j.getSpec()).isInstanceOf(UnreadableSpec.class);
        UnreadableSpec u = (UnreadableSpec) j.getSpec();
        TolerantJobReading.Problem p = u.problems.get(0);
        assertThat(p.field()).isEqualTo("spec.resources.nodes");
        assertThat(p.reason()).contains("3000000000").doesNotContain("\n");
        assertThat(p.value().bigIntegerValue()).hasToString("3000000000");
        assertThat(p.expected()).isEqualTo(Integer.class);
        // the rest of the spec is read: the field at fault is left out
        assertThat(u.othersRead).isTrue();
        assertThat(u.resources.nodes).isNull();
        assertThat(u.model.preset).isEqualTo("tiny-moe");
    }

    @Test
    void aTypeChangeIsUnreadableToo() {
        MoETrainingJob j = serialization.unmarshal(
                job(
                        "{\"model\":{\"preset\":\"tiny-moe\"},\"placement\":{\"topologyKeys\":{\"not\":\"a list\"}}}",
                        null),
                MoETrainingJob.class);
        TolerantJobReading.Problem p = ((UnreadableSpec) j.getSpec()).problems.get(0);
        assertThat(p.field()).isEqualTo("spec.placement.topologyKeys");
        assertThat(p.value().toString()).isEqualTo("{\"not\":\"a list\"}");
        assertThat(java.util.List.class).isAssignableFrom(p.expected());
    }

    @Test
    void aCloneThroughJsonIsUnreadableInTheSameWayAndKeepsTheStoredSpec() {
        // JOSDK clones every resource through JSON before reconciling it.
        String stored = "{\"model\":{\"preset\":\"tiny-moe\"},\"resources\":{\"nodes\":3000000000}}";
        MoETrainingJob j = serialization.unmarshal(job(stored, null), MoETrainingJob.class);
        String written = serialization.asJson(j);
        assertThat(written).contains("\"nodes\":3000000000");
        MoETrainingJob clone = serialization.clone(j);
        assertThat(clone.getSpec()).isInstanceOf(UnreadableSpec.class);
        assertThat(((UnreadableSpec) clone.getSpec()).problems).isEqualTo(((UnreadableSpec) j.getSpec()).problems);
    }

    @Test
    void aReadableSpecIsTheOrdinaryType() {
        MoETrainingJob j = serialization.unmarshal(
                job(
                        "{\"model\":{\"preset\":\"tiny-moe\"},\"resources\":{\"nodes\":3},\"unknownField\":{\"x\":1}}",
                        "{\"phase\":\"Running\",\"restarts\":2}"),
                MoETrainingJob.class);
        assertThat(j.getSpec()).isNotInstanceOf(UnreadableSpec.class);
        assertThat(j.getSpec().resources.nodes).isEqualTo(3);
        assertThat(j.getStatus().restarts).isEqualTo(2);
    }

    @Test
    void anUnreadableStatusNamesItsField() {
        MoETrainingJob j = serialization.unmarshal(
                job("{\"model\":{\"preset\":\"tiny-moe\"}}", "{\"phase\":\"Bogus\",\"restartAttempt\":-5}"),
                MoETrainingJob.class);
        assertThat(j.getStatus()).isInstanceOf(UnreadableStatus.class);
        assertThat(((UnreadableStatus) j.getStatus()).problems.get(0).field()).isEqualTo("status.phase");
        assertThat(j.getStatus().phase).isNull();
    }

    @Test
    void nothingIsGuessed_aStringIsNoNumberNorBooleanAndANumberNoString() throws Exception {
        TolerantJobReading.Problem quoted = problem("{\"parallelism\":{\"expert\":\"8\"}}");
        assertThat(quoted.field()).isEqualTo("spec.parallelism.expert");
        assertThat(quoted.value().textValue()).isEqualTo("8");
        assertThat(quoted.expected()).isEqualTo(Integer.class);
        assertThat(problem("{\"training\":{\"activationCheckpointing\":\"true\"}}")
                        .expected())
                .isEqualTo(TrainingSpec.ActivationCheckpointing.class);
        assertThat(problem("{\"training\":{\"activationCheckpointing\":1}}").field())
                .isEqualTo("spec.training.activationCheckpointing");
        assertThat(problem("{\"training\":{\"learningRate\":\"3e-4\"}}").expected())
                .isEqualTo(Double.class);
        assertThat(problem("{\"model\":{\"preset\":12}}").expected()).isEqualTo(String.class);
        assertThat(problem("{\"training\":{\"dataset\":{\"dtype\":1}}}").expected())
                .isEqualTo(TrainingSpec.TokenDtype.class);
        assertThat(problem("{\"training\":{\"dataset\":{\"dtype\":\"int8\"}}}").expected())
                .isEqualTo(TrainingSpec.TokenDtype.class);
        assertThat(problem("{\"trainer\":{\"args\":\"--flag\"}}").field()).isEqualTo("spec.trainer.args");
        assertThat(problem("{\"training\":\"fast\"}").expected()).isEqualTo(TrainingSpec.class);
        assertThat(problem("{\"trainer\":{\"env\":[{\"name\":\"A\",\"value\":5}]}}")
                        .field())
                .isEqualTo("spec.trainer.env[0].value");
        assertThat(problem("7").field()).isEqualTo("spec");
        assertThat(((UnreadableSpec) spec("7")).othersRead).isFalse();
    }

    @Test
    void everyFieldThatDoesNotFitIsReported_aListAsOneField() throws Exception {
        UnreadableSpec u = (UnreadableSpec) spec("{\"resources\":{\"nodes\":\"2\",\"gpusPerNode\":2},"
                + "\"restartPolicy\":{\"nonRetryableExitCodes\":[75,\"x\",\"y\"],\"maxRestarts\":\"3\"},"
                + "\"training\":{\"seqLength\":64}}");
        assertThat(u.problems)
                .extracting(TolerantJobReading.Problem::field)
                .containsExactlyInAnyOrder(
                        "spec.resources.nodes",
                        "spec.restartPolicy.nonRetryableExitCodes[1]",
                        "spec.restartPolicy.maxRestarts");
        assertThat(u.othersRead).isTrue();
        assertThat(u.resources.gpusPerNode).isEqualTo(2);
        assertThat(u.training.seqLength).isEqualTo(64);
        assertThat(u.restartPolicy.nonRetryableExitCodes).isNull();
    }

    @Test
    void aHugeNumberOfProblemsStopsAtTheReportedMaximum() throws Exception {
        StringBuilder selector = new StringBuilder("{");
        for (int i = 0; i < 1000; i++) {
            selector.append(i == 0 ? "" : ",")
                    .append("\"k")
                    .append(i)
                    .append("\":")
                    .append(i);
        }
        UnreadableSpec u = (UnreadableSpec) spec("{\"placement\":{\"nodeSelector\":" + selector + "}}}");
        assertThat(u.problems).hasSize(SpecLimits.MAX_REPORTED_ERRORS);
        assertThat(u.othersRead).isFalse();
    }

    @Test
    void wholeNumbersAreReadAsTheApiServerReadsThem() throws Exception {
        assertThat(spec("{\"resources\":{\"nodes\":2.0}}").resources.nodes).isEqualTo(2);
        assertThat(spec("{\"training\":{\"learningRate\":1}}").training.learningRate)
                .isEqualTo(1.0);
        TolerantJobReading.Problem fraction = problem("{\"resources\":{\"nodes\":2.5}}");
        assertThat(fraction.field()).isEqualTo("spec.resources.nodes");
        assertThat(fraction.value().doubleValue()).isEqualTo(2.5);
        assertThat(problem("{\"training\":{\"seed\":9223372036854775808}}").expected())
                .isEqualTo(Long.class);
    }

    @Test
    void activationCheckpointingIsAModeName_orTheBooleanOfJobsStoredBeforeTheModes() throws Exception {
        assertThat(spec("{\"training\":{\"activationCheckpointing\":\"selective\"}}").training.activationCheckpointing)
                .isEqualTo(TrainingSpec.ActivationCheckpointing.selective);
        assertThat(spec("{\"training\":{\"activationCheckpointing\":true}}").training.activationCheckpointing)
                .isEqualTo(TrainingSpec.ActivationCheckpointing.full);
        assertThat(spec("{\"training\":{\"activationCheckpointing\":false}}").training.activationCheckpointing)
                .isEqualTo(TrainingSpec.ActivationCheckpointing.none);
        assertThat(spec("{\"training\":{}}").training.activationCheckpointing).isNull();
        // off is what YAML 1.1 turns into false: not a name, so a quoted "off" is refused, not guessed
        assertThat(problem("{\"training\":{\"activationCheckpointing\":\"off\"}}")
                        .field())
                .isEqualTo("spec.training.activationCheckpointing");
    }

    @Test
    void aNullFieldIsAbsentAndKeepsItsDefault_butTheModelConfigIsReadAsWritten() throws Exception {
        MoETrainingJobSpec s = spec("{\"resources\":{\"nodes\":2,\"gpusPerNode\":null},\"training\":null,"
                + "\"model\":{\"preset\":\"tiny-moe\",\"config\":{\"hiddenSize\":null,\"ropeTheta\":1000.0}}}");
        assertThat(s.resources.gpusPerNode).isEqualTo(new ResourcesSpec().gpusPerNode);
        assertThat(s.training.seqLength).isEqualTo(new TrainingSpec().seqLength);
        JsonNode config = s.model.config;
        assertThat(config.get("hiddenSize").isNull()).isTrue();
        assertThat(config.get("ropeTheta").isDouble()).isTrue();
    }

    @Test
    void noSpecIsNull() throws Exception {
        assertThat(TolerantJobReading.readSpec(null)).isNull();
        assertThat(spec("null")).isNull();
    }
}
