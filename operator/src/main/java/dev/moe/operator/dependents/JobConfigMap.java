package dev.moe.operator.dependents;

import dev.moe.api.v1alpha1.MoETrainingJob;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import java.util.Map;
import java.util.Objects;

/**
 * A ConfigMap of the job whose data the operator renders (the plan, the trainer's shared environment): written
 * when its data differs from what the spec says, whatever else a user added to the object.
 */
abstract class JobConfigMap extends JobDependent<ConfigMap> {

    JobConfigMap() {
        super(ConfigMap.class);
    }

    /** The ConfigMap's data, from the job and its plan. */
    abstract Map<String, String> data(MoETrainingJob job, Context<MoETrainingJob> context);

    @Override
    protected ConfigMap desired(MoETrainingJob job, Context<MoETrainingJob> context) {
        return new ConfigMapBuilder()
                .withMetadata(meta(job, name(job)))
                .withData(data(job, context))
                .build();
    }

    @Override
    boolean matches(ConfigMap desired, ConfigMap actual) {
        return Objects.equals(desired.getData(), actual.getData());
    }
}
