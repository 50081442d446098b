package dev.moe.plan;

import static dev.moe.api.v1alpha1.WorkloadSyntax.IMAGE_DIRECTORIES;
import static dev.moe.api.v1alpha1.WorkloadSyntax.OPERATOR_MOUNTS;
import static dev.moe.api.v1alpha1.WorkloadSyntax.OPERATOR_VOLUMES;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe.api.v1alpha1.MoETrainingJobSpec;
import dev.moe.api.v1alpha1.ObjectNameRules;
import dev.moe.api.v1alpha1.PodOverridesSpec;
import dev.moe.api.v1alpha1.SpecLimits;
import dev.moe.api.v1alpha1.TrainerResources;
import dev.moe.api.v1alpha1.WorkloadSyntax;
import io.fabric8.kubernetes.api.model.Capabilities;
import io.fabric8.kubernetes.api.model.LocalObjectReference;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import java.math.BigDecimal;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The rules of the lifecycle fields and pod overrides a job copies into its pods (spec.managedBy,
 * spec.trainer.resources, spec.trainer.securityContext, spec.trainer.volumeMounts, spec.pod): part of
 * {@link WorkloadRules}, which calls it, so an invalid override is refused at apply (the webhook) or makes the job
 * Invalid before any pod exists. The CRD says the structural part of the same (CEL on PodFieldSchemas); the rules
 * that span fields (a mount's volume exists, the model claim's mount) are only here.
 */
final class PodOverrideRules {
    private PodOverrideRules() {}

    private static final Pattern QUANTITY = Pattern.compile(WorkloadSyntax.QUANTITY);
    private static final Pattern PATH = Pattern.compile(WorkloadSyntax.ABSOLUTE_PATH);
    private static final Pattern SUB_PATH = Pattern.compile(WorkloadSyntax.SUB_PATH);
    private static final Pattern DNS1123_LABEL = Pattern.compile(ObjectNameRules.DNS1123_LABEL);
    private static final Pattern CAPABILITY = Pattern.compile("^[A-Z_]+$");
    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** The volume sources spec.pod.volumes supports (the CRD's schema has only these). */
    static final Set<String> VOLUME_SOURCES = Set.of("configMap", "secret", "persistentVolumeClaim", "emptyDir");

    /** spec.managedBy, spec.trainer.resources, .securityContext and .volumeMounts. */
    static void checkTrainer(List<PlanError> errors, MoETrainingJobSpec spec) {
        var trainer = spec.trainer;
        var c = new WorkloadRules.Checker(errors);
        if (trainer.resources != null) {
            checkResources(errors, trainer.resources);
        }
        if (trainer.securityContext != null) {
            checkSecurityContext(c, trainer.securityContext);
        }
        if (c.list(trainer.volumeMounts, "spec.trainer.volumeMounts", SpecLimits.MAX_EXTRA_VOLUMES)) {
            Set<String> volumes = new HashSet<>();
            if (spec.pod != null && spec.pod.volumes != null) {
                spec.pod.volumes.stream()
                        .filter(v -> v != null && v.getName() != null)
                        .forEach(v -> volumes.add(v.getName()));
            }
            String modelMount = spec.model != null
                            && spec.model.checkpoint != null
                            && spec.model.checkpoint.claimName != null
                            && spec.model.checkpoint.path != null
                    ? WorkloadSyntax.modelMountPath(spec.model.checkpoint.path)
                    : null;
            Set<String> paths = new HashSet<>();
            for (int i = 0; i < trainer.volumeMounts.size(); i++) {
                String field = "spec.trainer.volumeMounts[" + i + "]";
                VolumeMount m = trainer.volumeMounts.get(i);
                if (c.object(m, field)) {
                    checkMount(c, m, field, volumes, modelMount, paths);
                }
            }
        }
    }

    private static void checkMount(
            WorkloadRules.Checker c,
            VolumeMount m,
            String field,
            Set<String> volumes,
            String modelMount,
            Set<String> paths) {
        List<PlanError> errors = c.errors;
        String name = c.string(m.getName(), field + ".name", ObjectNameRules.MAX_DNS_LABEL_LENGTH);
        if (name == null || !volumes.contains(name)) {
            errors.add(new PlanError(
                    "VolumeMountInvalid",
                    field + ".name",
                    name,
                    name == null ? "is required" : "names no volume of spec.pod.volumes",
                    "add a volume of that name to spec.pod.volumes, or name one of " + volumes));
        }
        String path = c.string(m.getMountPath(), field + ".mountPath", SpecLimits.MAX_PATH_LENGTH);
        if (path == null || !PATH.matcher(path).matches()) {
            errors.add(new PlanError(
                    "VolumeMountInvalid",
                    field + ".mountPath",
                    path,
                    path == null ? "is required" : "is not an absolute, normalised path",
                    "write the directory in the container, e.g. /mnt/cache"));
        } else {
            String clash = mountClash(path, modelMount);
            if (clash != null) {
                errors.add(new PlanError(
                        "MountPathConflict",
                        field + ".mountPath",
                        path,
                        clash,
                        "mount the volume at a directory of its own, e.g. /mnt/" + (name != null ? name : "cache")));
            } else if (!paths.add(path)) {
                errors.add(new PlanError(
                        "MountPathConflict",
                        field + ".mountPath",
                        path,
                        "is the mountPath of an earlier volumeMount",
                        "mount each volume at its own path"));
            }
        }
        String sub = c.string(m.getSubPath(), field + ".subPath", SpecLimits.MAX_PATH_LENGTH);
        if (sub != null
                && (!SUB_PATH.matcher(sub).matches() || List.of(sub.split("/")).contains(".."))) {
            errors.add(new PlanError(
                    "VolumeMountInvalid",
                    field + ".subPath",
                    sub,
                    "is not a relative path inside the volume (no leading '/', no '..' segments)",
                    "write e.g. cache/run-1, or leave it empty for the volume's root"));
        }
    }

    /** Why a mount at {@code path} collides with the operator's own mounts, or null. */
    static String mountClash(String path, String modelMount) {
        if (IMAGE_DIRECTORIES.contains(path)) {
            return "would hide the image's " + path;
        }
        List<String> own = new java.util.ArrayList<>(OPERATOR_MOUNTS);
        if (modelMount != null) {
            own.add(modelMount);
        }
        String reserved = " (the operator's mounts are " + String.join(", ", own) + ")";
        for (String o : own) {
            String what = o.equals(modelMount) ? "the model claim's mount at " : "the operator's mount at ";
            if (path.equals(o)) {
                return "is " + what + o + reserved;
            } else if (o.startsWith(path + "/")) {
                return "would contain " + what + o + reserved;
            } else if (path.startsWith(o + "/")) {
                return "lies inside " + what + o + reserved;
            }
        }
        return null;
    }

    private static void checkResources(List<PlanError> errors, TrainerResources r) {
        BigDecimal cpuRequest = r.requests != null ? quantity(errors, r.requests.cpu, "requests.cpu") : null;
        BigDecimal memRequest = r.requests != null ? quantity(errors, r.requests.memory, "requests.memory") : null;
        BigDecimal cpuLimit = r.limits != null ? quantity(errors, r.limits.cpu, "limits.cpu") : null;
        BigDecimal memLimit = r.limits != null ? quantity(errors, r.limits.memory, "limits.memory") : null;
        requestWithinLimit(errors, cpuRequest, cpuLimit, "cpu", r);
        requestWithinLimit(errors, memRequest, memLimit, "memory", r);
    }

    private static void requestWithinLimit(
            List<PlanError> errors, BigDecimal request, BigDecimal limit, String resource, TrainerResources r) {
        if (request != null && limit != null && request.compareTo(limit) > 0) {
            Quantity q = "cpu".equals(resource) ? r.requests.cpu : r.requests.memory;
            Quantity l = "cpu".equals(resource) ? r.limits.cpu : r.limits.memory;
            errors.add(new PlanError(
                    "ResourceInvalid",
                    "spec.trainer.resources.requests." + resource,
                    q.toString(),
                    "is more than the limit " + l,
                    "request at most spec.trainer.resources.limits." + resource));
        }
    }

    /** The amount of a quantity (CPUs or bytes), or null when absent or invalid (reported). */
    private static BigDecimal quantity(List<PlanError> errors, Quantity q, String which) {
        if (q == null) {
            return null;
        }
        String field = "spec.trainer.resources." + which;
        String text = q.toString();
        if (text.length() > SpecLimits.MAX_QUANTITY_LENGTH
                || !QUANTITY.matcher(text).matches()) {
            errors.add(new PlanError(
                    "ResourceInvalid",
                    field,
                    text,
                    "is not a quantity",
                    which.endsWith("cpu") ? "write CPUs, e.g. 32 or 500m" : "write bytes, e.g. 256Gi or 64G"));
            return null;
        }
        BigDecimal amount;
        try {
            amount = Quantity.getAmountInBytes(q);
        } catch (RuntimeException e) {
            errors.add(new PlanError("ResourceInvalid", field, text, "is not a quantity", "write e.g. 32 or 256Gi"));
            return null;
        }
        if (amount.signum() <= 0) {
            errors.add(new PlanError(
                    "ResourceInvalid", field, text, "must be more than 0", "leave it out for the default"));
            return null;
        }
        return amount;
    }

    private static void checkSecurityContext(WorkloadRules.Checker c, SecurityContext sc) {
        if (Boolean.TRUE.equals(sc.getPrivileged()) && Boolean.FALSE.equals(sc.getAllowPrivilegeEscalation())) {
            c.errors.add(new PlanError(
                    "SecurityContextInvalid",
                    "spec.trainer.securityContext.allowPrivilegeEscalation",
                    "false",
                    "cannot be false for a privileged container (privileged=true always allows it)",
                    "drop allowPrivilegeEscalation=false or privileged=true"));
        }
        Capabilities caps = sc.getCapabilities();
        if (caps != null) {
            capabilities(c, caps.getAdd(), "spec.trainer.securityContext.capabilities.add");
            capabilities(c, caps.getDrop(), "spec.trainer.securityContext.capabilities.drop");
        }
    }

    private static void capabilities(WorkloadRules.Checker c, List<String> list, String field) {
        if (c.list(list, field, SpecLimits.MAX_CAPABILITIES)) {
            for (int i = 0; i < list.size(); i++) {
                String cap = c.string(list.get(i), field + "[" + i + "]", 64);
                if (cap == null || !CAPABILITY.matcher(cap).matches()) {
                    c.errors.add(new PlanError(
                            "SecurityContextInvalid",
                            field + "[" + i + "]",
                            cap,
                            "is not a capability name",
                            "write e.g. IPC_LOCK (upper case, without CAP_)"));
                }
            }
        }
    }

    /** spec.managedBy and spec.pod. */
    static void checkPod(List<PlanError> errors, MoETrainingJobSpec spec) {
        var c = new WorkloadRules.Checker(errors);
        String managedBy = c.string(spec.managedBy, "spec.managedBy", ObjectNameRules.MAX_LABEL_VALUE_LENGTH);
        if (managedBy != null && !ObjectNameRules.isQualifiedName(managedBy)) {
            errors.add(new PlanError(
                    "ManagedByInvalid",
                    "spec.managedBy",
                    managedBy,
                    "is not a controller name (a qualified name such as kueue.x-k8s.io/multikueue)",
                    "leave it empty for this operator (" + MoETrainingJobSpec.MANAGED_BY_OPERATOR + ")"));
        }
        PodOverridesSpec pod = spec.pod;
        if (pod == null) {
            return;
        }
        metadata(c, pod.labels, "spec.pod.labels", true);
        metadata(c, pod.annotations, "spec.pod.annotations", false);
        if (c.list(pod.imagePullSecrets, "spec.pod.imagePullSecrets", SpecLimits.MAX_IMAGE_PULL_SECRETS)) {
            for (int i = 0; i < pod.imagePullSecrets.size(); i++) {
                String field = "spec.pod.imagePullSecrets[" + i + "]";
                LocalObjectReference ref = pod.imagePullSecrets.get(i);
                if (!c.object(ref, field)) {
                    continue;
                }
                String name = c.string(ref.getName(), field + ".name", ObjectNameRules.MAX_DNS_SUBDOMAIN_LENGTH);
                if (name == null || !ObjectNameRules.isDns1123Subdomain(name)) {
                    errors.add(new PlanError(
                            "SecretNameInvalid",
                            field + ".name",
                            name,
                            name == null ? "is required" : "is not a Secret name (a DNS-1123 subdomain)",
                            "name a docker-registry Secret of the job's namespace"));
                }
            }
        }
        if (c.list(pod.volumes, "spec.pod.volumes", SpecLimits.MAX_EXTRA_VOLUMES)) {
            Set<String> names = new HashSet<>();
            for (int i = 0; i < pod.volumes.size(); i++) {
                String field = "spec.pod.volumes[" + i + "]";
                Volume v = pod.volumes.get(i);
                if (c.object(v, field)) {
                    checkVolume(c, v, field, names);
                }
            }
        }
    }

    private static void metadata(WorkloadRules.Checker c, Map<String, String> map, String field, boolean labels) {
        if (!c.map(map, field, SpecLimits.MAX_POD_METADATA_ENTRIES)) {
            return;
        }
        for (Map.Entry<String, String> e : map.entrySet()) {
            String key = e.getKey();
            String f = field + "." + key;
            if (key.length() > ObjectNameRules.MAX_QUALIFIED_NAME_LENGTH || !ObjectNameRules.isQualifiedName(key)) {
                c.errors.add(new PlanError(
                        "MetadataKeyInvalid",
                        field,
                        key,
                        "is not a " + (labels ? "label" : "annotation") + " key (an optional DNS subdomain prefix"
                                + " and '/', then at most 63 letters, digits, '-', '_' or '.')",
                        "write e.g. team.example.com/owner"));
            } else if (WorkloadSyntax.isReservedMetadataKey(key)) {
                c.errors.add(new PlanError(
                        "MetadataKeyReserved",
                        field,
                        key,
                        "is the operator's own key (training.moe.dev/*, kueue.x-k8s.io/*,"
                                + " app.kubernetes.io/managed-by and app.kubernetes.io/component say which job, rank,"
                                + " attempt and pod group a pod belongs to)",
                        "use a key of your own, e.g. team.example.com/" + key.substring(key.indexOf('/') + 1)));
            }
            if (labels) {
                String v = c.string(e.getValue(), f, ObjectNameRules.MAX_LABEL_VALUE_LENGTH);
                if (v != null && !ObjectNameRules.isLabelValue(v)) {
                    c.errors.add(new PlanError(
                            "MetadataKeyInvalid",
                            f,
                            v,
                            "is not a label value",
                            "use letters, digits, '-', '_' and '.', starting and ending alphanumeric"));
                }
            } else {
                c.string(e.getValue(), f, SpecLimits.MAX_ANNOTATION_VALUE_LENGTH);
            }
        }
    }

    private static void checkVolume(WorkloadRules.Checker c, Volume v, String field, Set<String> names) {
        List<PlanError> errors = c.errors;
        String name = c.string(v.getName(), field + ".name", ObjectNameRules.MAX_DNS_LABEL_LENGTH);
        if (name == null || !DNS1123_LABEL.matcher(name).matches()) {
            errors.add(new PlanError(
                    "VolumeInvalid",
                    field + ".name",
                    name,
                    name == null ? "is required" : "is not a volume name (a DNS-1123 label)",
                    "write e.g. cache"));
        } else if (OPERATOR_VOLUMES.contains(name)) {
            errors.add(new PlanError(
                    "VolumeNameConflict",
                    field + ".name",
                    name,
                    "is the name of one of the operator's own volumes (" + String.join(", ", OPERATOR_VOLUMES) + ")",
                    "rename the volume, and the spec.trainer.volumeMounts that use it"));
        } else if (!names.add(name)) {
            errors.add(new PlanError(
                    "VolumeNameConflict",
                    field + ".name",
                    name,
                    "is the name of an earlier volume",
                    "give each volume its own name"));
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> fields = MAPPER.convertValue(v, Map.class);
        Set<String> sources = new LinkedHashSet<>(fields.keySet());
        sources.remove("name");
        sources.removeIf(k -> fields.get(k) == null);
        if (sources.size() != 1 || !VOLUME_SOURCES.contains(sources.iterator().next())) {
            errors.add(new PlanError(
                    "VolumeInvalid",
                    field,
                    sources.toString(),
                    "must name exactly one source of configMap, secret, persistentVolumeClaim and emptyDir",
                    "keep one of those sources (other volume types are not supported)"));
            return;
        }
        String ref = v.getConfigMap() != null
                ? v.getConfigMap().getName()
                : v.getSecret() != null
                        ? v.getSecret().getSecretName()
                        : v.getPersistentVolumeClaim() != null
                                ? v.getPersistentVolumeClaim().getClaimName()
                                : "";
        String refField = field
                + (v.getConfigMap() != null
                        ? ".configMap.name"
                        : v.getSecret() != null ? ".secret.secretName" : ".persistentVolumeClaim.claimName");
        if (v.getEmptyDir() == null) {
            String r = c.string(ref, refField, ObjectNameRules.MAX_DNS_SUBDOMAIN_LENGTH);
            if (r == null || !ObjectNameRules.isDns1123Subdomain(r)) {
                errors.add(new PlanError(
                        "VolumeInvalid",
                        refField,
                        r,
                        r == null ? "is required" : "is not an object name (a DNS-1123 subdomain)",
                        "name an object of the job's namespace"));
            }
        } else {
            String medium = v.getEmptyDir().getMedium();
            if (medium != null && !medium.isEmpty() && !"Memory".equals(medium)) {
                errors.add(new PlanError(
                        "VolumeInvalid",
                        field + ".emptyDir.medium",
                        medium,
                        "is neither empty nor Memory",
                        "leave it empty (node disk) or write Memory"));
            }
        }
    }
}
