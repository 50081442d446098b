package dev.moe.operator.dependents;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.operator.gang.GangNames;
import dev.moe.operator.k8s.ObjectNotOwnedException;
import dev.moe.operator.k8s.Ownership;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.javaoperatorsdk.operator.api.config.informer.InformerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceUtils;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependentResourceConfigBuilder;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import java.util.List;

/**
 * The trainer's access to the API: {@link TrainerRole} and {@link TrainerRoleBinding}, which the reconciler
 * reconciles beside the creates of the job's first gang instead of before them in the managed workflow.
 *
 * <p>Why beside: the API server checks every new Role and RoleBinding of an operator without RBAC's {@code
 * escalate}/{@code bind} verbs for privilege escalation, and that check waits until its watch cache of RoleBindings
 * and ClusterRoleBindings is fresh (40–50 ms per read, two reads per object, measured in bench/results.md): about
 * 0.1 s for the pair, in which no pod was created. Nothing needs them that early: a pod is admitted with its
 * ServiceAccount alone (which stays in the workflow), and rank 0's first progress report, the only API call of the
 * trainer, comes after its first training step and is best-effort (docs/contract.md section 4).
 *
 * <p>A name taken by an object the job does not control must still stop the job before it creates a pod
 * ({@link Ownership}): so when either object is not in the informer cache, both names are read first (a GET has no
 * escalation check), and only free names let the creates run beside the pods. A create that loses a race for its name
 * after that read is refused like any other write ({@link ObjectNotOwnedException}), and the reconciler gives back
 * the gang created meanwhile.
 */
public final class TrainerAccess {
    private final TrainerRole role = new TrainerRole();
    private final TrainerRoleBinding binding = new TrainerRoleBinding();

    public TrainerAccess() {
        watchJobLabelled(role);
        watchJobLabelled(binding);
    }

    /** The informers of the two objects (only objects labelled with a job name, as for every dependent). */
    public List<EventSource<?, MoETrainingJob>> eventSources(EventSourceContext<MoETrainingJob> context) {
        return EventSourceUtils.dependentEventSources(context, role, binding);
    }

    /** Whether either object is missing from the cache, i.e. will be created by {@link #reconcile}. */
    public boolean missing(MoETrainingJob job, Context<MoETrainingJob> ctx) {
        return role.getSecondaryResource(job, ctx).isEmpty()
                || binding.getSecondaryResource(job, ctx).isEmpty();
    }

    /** Throws {@link ObjectNotOwnedException} when the Role's or the RoleBinding's name is taken by someone else's. */
    public void requireNamesFree(MoETrainingJob job, Context<MoETrainingJob> ctx) {
        role.requireNameFree(job, ctx);
        binding.requireNameFree(job, ctx);
    }

    /** Reconciles the Role, then the RoleBinding: the escalation check of a new RoleBinding reads the Role it binds. */
    public void reconcile(MoETrainingJob job, Context<MoETrainingJob> ctx) {
        role.reconcile(job, ctx);
        binding.reconcile(job, ctx);
    }

    /** As every dependent's informer: only objects labelled with a job name (a standalone dependent reads no annotation). */
    private static <R extends HasMetadata> void watchJobLabelled(JobDependent<R> dependent) {
        dependent.configureWith(new KubernetesDependentResourceConfigBuilder<R>()
                .withKubernetesDependentInformerConfig(InformerConfiguration.builder(dependent.resourceType())
                        .withLabelSelector(GangNames.JOB_LABEL)
                        .build())
                .build());
    }
}
