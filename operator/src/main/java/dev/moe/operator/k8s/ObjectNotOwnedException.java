package dev.moe.operator.k8s;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.OwnerReference;

/**
 * An object the job derives (its plan ConfigMap, Service, trainer identity or a pod) already exists and is not
 * controlled by this job. The operator never adopts or overwrites it: the job reports the conflict and creates no
 * pods until the object is gone or the job is renamed.
 */
public class ObjectNotOwnedException extends RuntimeException {
    private final String kind;
    private final String name;

    public ObjectNotOwnedException(String kind, String name, HasMetadata existing) {
        super(describe(kind, name, existing));
        this.kind = kind;
        this.name = name;
    }

    public String kind() {
        return kind;
    }

    public String name() {
        return name;
    }

    private static String describe(String kind, String name, HasMetadata existing) {
        OwnerReference controller = existing == null || existing.getMetadata().getOwnerReferences() == null
                ? null
                : existing.getMetadata().getOwnerReferences().stream()
                        .filter(o -> Boolean.TRUE.equals(o.getController()))
                        .findFirst()
                        .orElse(null);
        if (controller != null && "MoETrainingJob".equals(controller.getKind())) {
            // A job deleted and re-created under the same name: garbage collection removes the old objects.
            return kind + " " + name + " still belongs to an earlier MoETrainingJob " + controller.getName() + " (uid "
                    + controller.getUid() + "); waiting for garbage collection to delete it";
        }
        return kind + " " + name + " already exists and is not controlled by this job"
                + (controller != null
                        ? " (its controller is " + controller.getKind() + " " + controller.getName() + ")"
                        : "")
                + "; the operator leaves it untouched: delete or rename that " + kind
                + ", or give the job another name";
    }
}
