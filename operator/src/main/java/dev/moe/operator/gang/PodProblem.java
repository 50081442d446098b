package dev.moe.operator.gang;

/**
 * Why a pod of the current gang is neither running nor failed: the reason a gang cannot start, taken from the
 * pod's conditions and container states (what {@code kubectl describe pod} would show).
 *
 * @param reason  {@link #AWAITING_ADMISSION}, {@link #UNSCHEDULABLE}, {@link #NO_NODE_FITS},
 *                {@link #IMAGE_PULL_FAILED} or {@link #CONTAINER_CONFIG_ERROR} (the GangScheduled or Running
 *                condition's reason)
 * @param pod     pod name
 * @param message the scheduler's or kubelet's message
 */
public record PodProblem(String reason, String pod, String message) {
    /**
     * A Kueue scheduling gate holds the pod (its pod group waits in the queue for quota, or for Kueue's topology
     * assignment): no problem of the job, so a Normal event, not a Warning.
     */
    public static final String AWAITING_ADMISSION = "AwaitingKueueAdmission";
    /** The scheduler cannot place the pod now (PodScheduled=False, reason Unschedulable). */
    public static final String UNSCHEDULABLE = "Unschedulable";
    /** No node of the cluster could ever take the pod (see {@link FleetFit}). */
    public static final String NO_NODE_FITS = "NoNodeFits";
    /** The image cannot be pulled (ErrImagePull, ImagePullBackOff, InvalidImageName, ErrImageNeverPull). */
    public static final String IMAGE_PULL_FAILED = "ImagePullFailed";
    /** The container cannot be created (CreateContainerConfigError, CreateContainerError, RunContainerError). */
    public static final String CONTAINER_CONFIG_ERROR = "ContainerConfigError";

    /** "pod x: message". */
    public String describe() {
        return pod + ": " + message;
    }
}
