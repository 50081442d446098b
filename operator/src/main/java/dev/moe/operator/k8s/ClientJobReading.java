package dev.moe.operator.k8s;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe.api.v1alpha1.TolerantJobReading;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.quarkus.kubernetes.client.KubernetesClientObjectMapperCustomizer;
import jakarta.inject.Singleton;

/**
 * Reads MoETrainingJobs on the Kubernetes client with {@link TolerantJobReading}: a stored spec or status that
 * does not fit the Java types becomes an UnreadableSpec / UnreadableStatus, reported on that job by the plan
 * engine, instead of failing deserialisation and stopping the job informer for every job in the cluster. Two
 * settings of the client's parser serve the same end for objects nested deep (a free-form map such as
 * {@code spec.model.config} has no depth bound in a schema; the API server's JSON decoder stops at 10,000 levels):
 * <ul>
 *   <li>the parser follows up to {@link #PARSER_MAX_NESTING} levels (Jackson's default of 1,000 failed the whole
 *       list of jobs), and the reader then finds the job too deep ({@link TolerantJobReading#MAX_DEPTH});</li>
 *   <li>{@code metadata.managedFields} is neither read nor written: its {@code fieldsV1} mirror every field path
 *       of an object, as deep as its deepest field, and Jackson walks them recursively. The operator compares its
 *       dependents on their fields, never on managedFields, and server-side apply needs none on a request (the API
 *       server keeps an object's managedFields when a write leaves them out).</li>
 * </ul>
 * The last rule is also the informer caches' biggest saving: every cached object (job, pod, dependent) carried one
 * entry per field manager (operator, scheduler, kubelet, a user's kubectl), ≈ 1 KiB of heap each
 * (bench/results.md, "Operator memory with 1,000 jobs after trimming the caches").
 * Fabric8 converts watch events from generic maps recursively as well: the operator runs with 8 MiB thread stacks
 * ({@code -Xss8m}, the chart's jvmOptions), on which a 10,000-level job is read (ClientJobReadingTest).
 */
@Singleton
public class ClientJobReading implements KubernetesClientObjectMapperCustomizer {
    static final int PARSER_MAX_NESTING = 100_000;

    @JsonIgnoreProperties(value = "managedFields", ignoreUnknown = true)
    abstract static class WithoutManagedFields {}

    @Override
    public void customize(ObjectMapper mapper) {
        mapper.getFactory()
                .setStreamReadConstraints(StreamReadConstraints.builder()
                        .maxNestingDepth(PARSER_MAX_NESTING)
                        .build());
        mapper.addMixIn(ObjectMeta.class, WithoutManagedFields.class);
        mapper.registerModule(TolerantJobReading.module());
    }
}
