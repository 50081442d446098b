package dev.moe.operator.k8s;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe.api.v1alpha1.TolerantJobReading;
import io.quarkus.kubernetes.client.KubernetesClientObjectMapperCustomizer;
import jakarta.inject.Singleton;

/**
 * Reads MoETrainingJobs on the Kubernetes client with {@link TolerantJobReading}: a stored spec or status that
 * does not fit the Java types becomes an UnreadableSpec / UnreadableStatus, reported on that job by the plan
 * engine, instead of failing deserialisation and stopping the job informer for every job in the cluster.
 */
@Singleton
public class ClientJobReading implements KubernetesClientObjectMapperCustomizer {
    @Override
    public void customize(ObjectMapper mapper) {
        mapper.registerModule(TolerantJobReading.module());
    }
}
