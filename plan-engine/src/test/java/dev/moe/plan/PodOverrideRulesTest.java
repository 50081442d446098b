package dev.moe.plan;

import static dev.moe.plan.Specs.plan;
import static dev.moe.plan.Specs.set;
import static dev.moe.plan.Specs.tiny;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The lifecycle fields and pod overrides: each rule accepts a valid value and refuses an invalid one, by field. */
class PodOverrideRulesTest {

    private static final Map<String, Object> CACHE = Map.of("name", "cache", "emptyDir", Map.of());

    private static ObjectNode spec(Object... pathsAndValues) {
        ObjectNode s = tiny(2, 2, 2, 2);
        for (int i = 0; i < pathsAndValues.length; i += 2) {
            set(s, (String) pathsAndValues[i], pathsAndValues[i + 1]);
        }
        return s;
    }

    private static void valid(Object... pathsAndValues) {
        PlanResult r = plan(spec(pathsAndValues));
        assertThat(r.isValid()).as(r.errorMessages().toString()).isTrue();
    }

    private static void invalid(String rule, String message, Object... pathsAndValues) {
        PlanResult r = plan(spec(pathsAndValues));
        assertThat(r.errors()).extracting(PlanError::rule).containsExactly(rule);
        assertThat(r.errors().get(0).message()).startsWith(message);
    }

    @Test
    void lifecycleFields() {
        valid("activeDeadlineSeconds", 3600, "ttlSecondsAfterFinished", 0, "managedBy", "kueue.x-k8s.io/multikueue");
        valid("placement.priorityClassName", "training-high");
        invalid("PositiveValue", "spec.activeDeadlineSeconds=0 must be at least 1", "activeDeadlineSeconds", 0);
        invalid(
                "ValueTooLarge",
                "spec.ttlSecondsAfterFinished=40000000 is more than 31536000",
                "ttlSecondsAfterFinished",
                40_000_000);
        invalid("ManagedByInvalid", "spec.managedBy=not a name is not a controller name", "managedBy", "not a name");
        invalid(
                "PriorityClassInvalid", "spec.placement.priorityClassName=High_Priority is not a PriorityClass name",
                "placement.priorityClassName", "High_Priority");
    }

    @Test
    void resources() {
        valid(
                "trainer.resources",
                Map.of(
                        "requests",
                        Map.of("cpu", "500m", "memory", "64Gi"),
                        "limits",
                        Map.of("cpu", 8, "memory", "64Gi")));
        invalid(
                "ResourceInvalid",
                "spec.trainer.resources.requests.memory=128Gi is more than the limit 64Gi",
                "trainer.resources",
                Map.of("requests", Map.of("memory", "128Gi"), "limits", Map.of("memory", "64Gi")));
        invalid(
                "ResourceInvalid",
                "spec.trainer.resources.requests.cpu=lots is not a quantity",
                "trainer.resources",
                Map.of("requests", Map.of("cpu", "lots")));
        invalid(
                "ResourceInvalid",
                "spec.trainer.resources.limits.memory=0 must be more than 0",
                "trainer.resources",
                Map.of("limits", Map.of("memory", "0")));
    }

    @Test
    void labelsAndAnnotationsTheOperatorOwnsAreRefused() {
        valid(
                "pod.labels",
                Map.of("team.example.com/owner", "research"),
                "pod.annotations",
                Map.of("cluster-autoscaler.kubernetes.io/safe-to-evict", "false"));
        invalid(
                "MetadataKeyReserved",
                "spec.pod.labels=training.moe.dev/job is the operator's own key",
                "pod.labels",
                Map.of("training.moe.dev/job", "other"));
        invalid(
                "MetadataKeyReserved",
                "spec.pod.labels=app.kubernetes.io/managed-by is the operator's own key",
                "pod.labels",
                Map.of("app.kubernetes.io/managed-by", "me"));
        invalid(
                "MetadataKeyReserved",
                "spec.pod.annotations=kueue.x-k8s.io/pod-group-total-count is the operator's",
                "pod.annotations",
                Map.of("kueue.x-k8s.io/pod-group-total-count", "1"));
        invalid(
                "MetadataKeyInvalid",
                "spec.pod.labels=bad key! is not a label key",
                "pod.labels",
                Map.of("bad key!", "x"));
        invalid(
                "MetadataKeyInvalid",
                "spec.pod.labels.team=not a value is not a label value",
                "pod.labels",
                Map.of("team", "not a value"));
    }

    @Test
    void volumesAndMounts() {
        valid(
                "pod.volumes",
                List.of(
                        CACHE,
                        Map.of("name", "creds", "secret", Map.of("secretName", "hf-token")),
                        Map.of("name", "extra", "persistentVolumeClaim", Map.of("claimName", "scratch")),
                        Map.of("name", "cfg", "configMap", Map.of("name", "settings"))),
                "trainer.volumeMounts",
                List.of(
                        Map.of("name", "cache", "mountPath", "/mnt/cache"),
                        Map.of("name", "creds", "mountPath", "/var/run/secrets/hf", "readOnly", true),
                        Map.of("name", "extra", "mountPath", "/scratch", "subPath", "run-1/out")));
        invalid(
                "VolumeNameConflict",
                "spec.pod.volumes[0].name=plan is the name of one of the operator's own volumes",
                "pod.volumes",
                List.of(Map.of("name", "plan", "emptyDir", Map.of())));
        invalid(
                "VolumeNameConflict",
                "spec.pod.volumes[1].name=cache is the name of an earlier volume",
                "pod.volumes",
                List.of(CACHE, CACHE));
        invalid(
                "VolumeInvalid",
                "spec.pod.volumes[0]=[emptyDir, hostPath] must name exactly one source",
                "pod.volumes",
                List.of(Map.of("name", "x", "emptyDir", Map.of(), "hostPath", Map.of("path", "/"))));
        invalid(
                "VolumeInvalid",
                "spec.pod.volumes[0]=[hostPath] must name exactly one source",
                "pod.volumes",
                List.of(Map.of("name", "x", "hostPath", Map.of("path", "/"))));
        invalid(
                "VolumeMountInvalid", "spec.trainer.volumeMounts[0].name=nope names no volume of spec.pod.volumes",
                "pod.volumes", List.of(CACHE),
                "trainer.volumeMounts", List.of(Map.of("name", "nope", "mountPath", "/mnt/x")));
        invalid(
                "MountPathConflict",
                        "spec.trainer.volumeMounts[0].mountPath=/checkpoints is the operator's mount at"
                                + " /checkpoints",
                "pod.volumes", List.of(CACHE),
                "trainer.volumeMounts", List.of(Map.of("name", "cache", "mountPath", "/checkpoints")));
        invalid(
                "MountPathConflict",
                        "spec.trainer.volumeMounts[0].mountPath=/etc/moe/extra lies inside the operator's"
                                + " mount at /etc/moe",
                "pod.volumes", List.of(CACHE),
                "trainer.volumeMounts", List.of(Map.of("name", "cache", "mountPath", "/etc/moe/extra")));
        invalid(
                "MountPathConflict", "spec.trainer.volumeMounts[0].mountPath=/usr would hide the image's /usr",
                "pod.volumes", List.of(CACHE),
                "trainer.volumeMounts", List.of(Map.of("name", "cache", "mountPath", "/usr")));
        invalid(
                "MountPathConflict",
                        "spec.trainer.volumeMounts[0].mountPath=/models is the model claim's mount at" + " /models",
                "model.checkpoint", Map.of("claimName", "w", "path", "/models/Qwen3"),
                "pod.volumes", List.of(CACHE),
                "trainer.volumeMounts", List.of(Map.of("name", "cache", "mountPath", "/models")));
        invalid(
                "VolumeMountInvalid", "spec.trainer.volumeMounts[0].subPath=../up is not a relative path",
                "pod.volumes", List.of(CACHE),
                "trainer.volumeMounts", List.of(Map.of("name", "cache", "mountPath", "/mnt/c", "subPath", "../up")));
    }

    @Test
    void pullSecretsAndSecurityContext() {
        valid(
                "pod.imagePullSecrets",
                List.of(Map.of("name", "registry-creds")),
                "pod.securityContext",
                Map.of("runAsUser", 1000, "runAsNonRoot", true, "fsGroup", 1000),
                "trainer.securityContext",
                Map.of(
                        "allowPrivilegeEscalation",
                        false,
                        "capabilities",
                        Map.of("add", List.of("IPC_LOCK"), "drop", List.of("ALL"))));
        invalid(
                "SecretNameInvalid",
                "spec.pod.imagePullSecrets[0].name=Creds is not a Secret name",
                "pod.imagePullSecrets",
                List.of(Map.of("name", "Creds")));
        invalid(
                "SecurityContextInvalid",
                "spec.trainer.securityContext.allowPrivilegeEscalation=false cannot be false",
                "trainer.securityContext",
                Map.of("privileged", true, "allowPrivilegeEscalation", false));
        invalid(
                "SecurityContextInvalid",
                "spec.trainer.securityContext.capabilities.add[0]=cap_sys_admin is not",
                "trainer.securityContext",
                Map.of("capabilities", Map.of("add", List.of("cap_sys_admin"))));
    }
}
