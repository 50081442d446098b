package dev.moe.operator.dependents;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.operator.gang.GangNames;
import dev.moe.operator.planner.JobPlanner;
import io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBuilder;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Role {@code <job>-trainer}: patch on this job's pods only (by name), so rank 0 can write its progress annotation
 * (docs/contract.md section 4) and nothing else. Reconciled through {@link TrainerAccess}.
 */
public class TrainerRole extends JobDependent<Role> {

    public TrainerRole() {
        super(Role.class);
    }

    @Override
    String name(MoETrainingJob job) {
        return GangNames.trainerIdentityName(job);
    }

    @Override
    protected Role desired(MoETrainingJob job, Context<MoETrainingJob> context) {
        int nodes = JobPlanner.plan(job, context).plan().nodes();
        List<String> pods = new ArrayList<>(nodes);
        for (int r = 0; r < nodes; r++) {
            pods.add(GangNames.podName(job, r));
        }
        return new RoleBuilder()
                .withMetadata(meta(job, name(job)))
                .withRules(new PolicyRuleBuilder()
                        .withApiGroups("")
                        .withResources("pods")
                        .withVerbs("patch")
                        .withResourceNames(pods)
                        .build())
                .build();
    }

    @Override
    boolean matches(Role desired, Role actual) {
        return Objects.equals(desired.getRules(), actual.getRules());
    }
}
