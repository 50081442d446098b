package dev.moe.operator.k8s;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.operator.gang.GangDecision.JobEvent;
import dev.moe.operator.gang.GangNames;
import dev.moe.operator.status.Conditions;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Instant;
import java.util.concurrent.ThreadLocalRandom;
import org.jboss.logging.Logger;

/**
 * Records core/v1 Events on a job ({@code kubectl describe moejob} shows them). An Event that cannot be written
 * is logged and dropped: events are for people, never part of the reconcile's correctness.
 */
public final class JobEvents {
    private static final Logger LOG = Logger.getLogger(JobEvents.class);
    private static final int MAX_MESSAGE = 1024;

    private JobEvents() {}

    public static Event render(MoETrainingJob job, JobEvent e, Instant now) {
        String message =
                e.message().length() > MAX_MESSAGE ? e.message().substring(0, MAX_MESSAGE - 1) + "…" : e.message();
        String time = Conditions.time(now);
        return new EventBuilder()
                .withNewMetadata()
                .withName(job.getMetadata().getName() + "." + Long.toHexString(now.toEpochMilli())
                        + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x1000, 0xffff)))
                .withNamespace(job.getMetadata().getNamespace())
                .addToLabels(GangNames.JOB_LABEL, job.getMetadata().getName())
                .endMetadata()
                .withNewInvolvedObject()
                .withApiVersion(job.getApiVersion())
                .withKind(job.getKind())
                .withName(job.getMetadata().getName())
                .withNamespace(job.getMetadata().getNamespace())
                .withUid(job.getMetadata().getUid())
                .endInvolvedObject()
                .withType(e.type())
                .withReason(e.reason())
                .withMessage(message)
                .withFirstTimestamp(time)
                .withLastTimestamp(time)
                .withCount(1)
                .withNewSource()
                .withComponent(GangNames.MANAGED_BY)
                .endSource()
                .withReportingComponent(GangNames.MANAGED_BY)
                .withReportingInstance(System.getenv().getOrDefault("HOSTNAME", GangNames.MANAGED_BY))
                .build();
    }

    public static void record(KubernetesClient client, MoETrainingJob job, JobEvent e, Instant now) {
        try {
            client.v1()
                    .events()
                    .inNamespace(job.getMetadata().getNamespace())
                    .resource(render(job, e, now))
                    .create();
        } catch (RuntimeException ex) {
            LOG.warnf(
                    "could not record event %s on %s/%s: %s",
                    e.reason(),
                    job.getMetadata().getNamespace(),
                    job.getMetadata().getName(),
                    ex.getMessage());
        }
    }
}
