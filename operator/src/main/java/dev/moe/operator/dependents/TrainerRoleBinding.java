package dev.moe.operator.dependents;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.operator.gang.GangNames;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * RoleBinding {@code <job>-trainer}: {@link TrainerRole} for {@link TrainerServiceAccount}. Reconciled through
 * {@link TrainerAccess}.
 */
public class TrainerRoleBinding extends JobDependent<RoleBinding> {

    public TrainerRoleBinding() {
        super(RoleBinding.class);
    }

    @Override
    String name(MoETrainingJob job) {
        return GangNames.trainerIdentityName(job);
    }

    @Override
    protected RoleBinding desired(MoETrainingJob job, Context<MoETrainingJob> context) {
        String name = name(job);
        return new RoleBindingBuilder()
                .withMetadata(meta(job, name))
                .withNewRoleRef()
                .withApiGroup("rbac.authorization.k8s.io")
                .withKind("Role")
                .withName(name)
                .endRoleRef()
                .addNewSubject()
                .withKind("ServiceAccount")
                .withName(name)
                .withNamespace(job.getMetadata().getNamespace())
                .endSubject()
                .build();
    }

    /**
     * Compares what the operator sets. The API server defaults a ServiceAccount subject's {@code apiGroup} to "",
     * so comparing whole objects would see a difference, and write, on every reconcile.
     */
    @Override
    boolean matches(RoleBinding desired, RoleBinding actual) {
        return Objects.equals(subjects(desired), subjects(actual))
                && actual.getRoleRef() != null
                && Objects.equals(
                        desired.getRoleRef().getKind(), actual.getRoleRef().getKind())
                && Objects.equals(
                        desired.getRoleRef().getName(), actual.getRoleRef().getName());
    }

    private static List<List<String>> subjects(RoleBinding b) {
        return b.getSubjects() == null
                ? List.of()
                : b.getSubjects().stream()
                        .map(s -> Arrays.asList(s.getKind(), s.getName(), s.getNamespace()))
                        .toList();
    }
}
