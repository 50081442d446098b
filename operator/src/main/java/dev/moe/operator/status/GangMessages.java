package dev.moe.operator.status;

/**
 * The GangScheduled and Running condition messages of a gang, and the one rule they follow: <b>no number that
 * moves while a gang forms goes into a condition</b>.
 *
 * <p>The status is patched whenever it differs from the last one written ({@link StatusUpdater#changed}), and a
 * reconcile runs on every pod event. A message that counted the pods bound or running ("17 of 64 pods bound")
 * would differ at nearly every reconcile of a ramp: a 64-pod gang patched its status about 20 times while its
 * pods were bound (bench/results.md), and as often on each restart. Without the moving count a gang start writes
 * its status at most three times: the gang created (Pending), all pods bound (GangScheduled=True), all pods
 * running (Running=True, phase Running); the last two are one patch when a reconcile sees both at once. A
 * condition's status, reason and the phase are never held back: only the wording is chosen not to move.
 *
 * <p>Counts appear where they stand still:
 * <ul>
 *   <li>complete: "all N pods are bound / running";</li>
 *   <li>stuck: when a pod problem is named ({@link #withCounts}: the scheduler cannot place a pod, an image does
 *       not pull, Kueue holds the gang), the message starts with how many are bound or running, which no longer
 *       moves while the problem lasts; a new problem is news worth a patch;</li>
 *   <li>given up: the gang-scheduling timeout's failure message ("only n of N pods running after …s") is written
 *       once, in lastFailure and the Running condition.</li>
 * </ul>
 * While the gang forms, the messages say what is awaited and where the live count is (the pods, by the job's
 * label). That is also what Argo CD shows for a Pending job (it shows the first such condition message).
 */
public final class GangMessages {
    private GangMessages() {}

    /** GangScheduled=True. */
    public static String allBound(int nodes) {
        return "all " + nodes + " pods are bound to nodes";
    }

    /** Running=True. */
    public static String allRunning(int nodes, int attempt) {
        return "all " + nodes + " pods are running (attempt " + attempt + ")";
    }

    /**
     * GangScheduled=False while the gang forms and no pod has a problem.
     *
     * @param podSelector the label selector of the job's pods ({@code kubectl get pods -l ...} shows the count)
     */
    public static String awaitingBinding(int nodes, String podSelector) {
        return "waiting for all " + nodes + " pods to be bound to nodes (kubectl get pods -l " + podSelector + ")";
    }

    /** Running=False while the gang forms and no pod has a problem. */
    public static String awaitingRunning(int nodes, int attempt, String podSelector) {
        return "waiting for all " + nodes + " pods of attempt " + attempt + " to be running (kubectl get pods -l "
                + podSelector + ")";
    }

    /**
     * A stuck gang's message: how many of its pods are bound (a scheduling problem) or running (a container
     * problem), then the first problem.
     */
    public static String withCounts(boolean scheduling, int bound, int running, int nodes, String problem) {
        return (scheduling ? bound + " of " + nodes + " pods bound; " : running + " of " + nodes + " pods running; ")
                + problem;
    }
}
