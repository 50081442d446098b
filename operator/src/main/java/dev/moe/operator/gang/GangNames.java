package dev.moe.operator.gang;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.TrainerContract;
import java.util.Map;

/**
 * Names, labels and annotations of everything a job owns. One place, so the pod factory, the observer and the
 * tests agree.
 *
 * <pre>
 *   Service        &lt;job&gt;              headless, selects the job's pods, publishNotReadyAddresses
 *   ConfigMap      &lt;job&gt;-plan         key plan.json (docs/contract.md section 1)
 *   ServiceAccount &lt;job&gt;-trainer      + Role/RoleBinding &lt;job&gt;-trainer: patch on the job's pods only
 *   Pod            &lt;job&gt;-node-&lt;r&gt;    hostname &lt;job&gt;-node-&lt;r&gt;, subdomain &lt;job&gt;
 * </pre>
 */
public final class GangNames {
    private GangNames() {}

    public static final String LABEL_PREFIX = "training.moe.dev/";
    /** Job name, on every owned object. */
    public static final String JOB_LABEL = LABEL_PREFIX + "job";
    /**
     * The job's uid, on its pods: a whole-gang deletecollection selects {@code job=<name>,job-uid=<uid>}, so it can
     * never take a pod the job did not create (anyone may label a pod {@code training.moe.dev/job=<name>}).
     */
    public static final String JOB_UID_LABEL = LABEL_PREFIX + "job-uid";
    /** Node rank of a pod (0..nodes-1). */
    public static final String NODE_RANK_LABEL = LABEL_PREFIX + "node-rank";
    /** Restart attempt that created the pod (MOE_RESTART_ATTEMPT). */
    public static final String ATTEMPT_LABEL = LABEL_PREFIX + "attempt";
    /** Expert-parallel group of a pod, when groups span nodes. */
    public static final String EXPERT_GROUP_LABEL = LABEL_PREFIX + "expert-group";
    /** Progress report of global rank 0 (docs/contract.md section 4). */
    public static final String PROGRESS_ANNOTATION = TrainerContract.PROGRESS_ANNOTATION;

    public static final String MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
    public static final String MANAGED_BY = "moe-operator";
    public static final String COMPONENT_LABEL = "app.kubernetes.io/component";

    /** The trainer container's name. */
    public static final String TRAINER_CONTAINER = TrainerContract.TRAINER_CONTAINER;
    /** Key of the plan document in the ConfigMap. */
    public static final String PLAN_KEY = TrainerContract.PLAN_KEY;

    public static final String PLAN_DIR = TrainerContract.PLAN_DIR;
    public static final String PLAN_PATH = TrainerContract.PLAN_PATH;

    public static String serviceName(MoETrainingJob job) {
        return job.getMetadata().getName();
    }

    public static String planConfigMapName(MoETrainingJob job) {
        return job.getMetadata().getName() + "-plan";
    }

    /** The ConfigMap of the environment all the job's pods share ({@link GangPodFactory#sharedEnv}). */
    public static String trainerEnvConfigMapName(MoETrainingJob job) {
        return job.getMetadata().getName() + "-trainer-env";
    }

    public static String trainerIdentityName(MoETrainingJob job) {
        return job.getMetadata().getName() + "-trainer";
    }

    public static String podName(MoETrainingJob job, int nodeRank) {
        return podName(job.getMetadata().getName(), nodeRank);
    }

    public static String podName(String jobName, int nodeRank) {
        return jobName + "-node-" + nodeRank;
    }

    /** DNS name of node rank 0 through the headless Service: MASTER_ADDR. */
    public static String masterAddress(MoETrainingJob job) {
        return podName(job, 0) + "." + serviceName(job) + "."
                + job.getMetadata().getNamespace() + ".svc";
    }

    /** Labels on every object a job owns. */
    public static Map<String, String> jobLabels(MoETrainingJob job) {
        return Map.of(JOB_LABEL, job.getMetadata().getName(), MANAGED_BY_LABEL, MANAGED_BY);
    }
}
