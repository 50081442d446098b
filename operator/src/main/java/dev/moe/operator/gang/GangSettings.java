package dev.moe.operator.gang;

/**
 * Operator-wide settings the pod factory needs (from application.properties / environment).
 *
 * @param defaultTrainerImage image for jobs without spec.trainer.image (MOE_TRAINER_DEFAULT_IMAGE)
 * @param masterPort          torchrun rendezvous port on node rank 0 (MASTER_PORT)
 * @param metricsPort         Prometheus port of local rank 0 (MOE_METRICS_PORT)
 */
public record GangSettings(String defaultTrainerImage, int masterPort, int metricsPort) {
    public static final int DEFAULT_MASTER_PORT = 29500;
    public static final int DEFAULT_METRICS_PORT = 9400;
    public static final String DEFAULT_TRAINER_IMAGE = "ghcr.io/moe-operator/trainer:0.1.0";

    public static GangSettings defaults() {
        return new GangSettings(DEFAULT_TRAINER_IMAGE, DEFAULT_MASTER_PORT, DEFAULT_METRICS_PORT);
    }
}
