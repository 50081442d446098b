package dev.moe.plan;

import static dev.moe.api.v1alpha1.WorkloadSyntax.IMAGE_DIRECTORIES;
import static dev.moe.api.v1alpha1.WorkloadSyntax.OPERATOR_MOUNTS;
import static dev.moe.api.v1alpha1.WorkloadSyntax.RESERVED_ENV;
import static dev.moe.api.v1alpha1.WorkloadSyntax.TRAINER_CONTAINER;

import dev.moe.api.v1alpha1.MoETrainingJobSpec;
import dev.moe.api.v1alpha1.ObjectNameRules;
import dev.moe.api.v1alpha1.PlacementSpec;
import dev.moe.api.v1alpha1.SpecLimits;
import dev.moe.api.v1alpha1.WorkloadSyntax;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarSource;
import io.fabric8.kubernetes.api.model.ObjectFieldSelector;
import io.fabric8.kubernetes.api.model.ResourceFieldSelector;
import io.fabric8.kubernetes.api.model.Toleration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The rules for what the operator copies from a job into its pods (images, commands, env, node selector,
 * tolerations, topology keys, claims, mount paths): every value must be one the API server accepts in a pod,
 * so a job that passes these rules never leaves the operator with a pod it cannot create. The CRD says the same
 * where its schema can (patterns, lengths, CEL, from the constants of {@link WorkloadSyntax} and
 * {@link ObjectNameRules}), this class says all of it (files checked offline, objects stored before the CRD
 * carried a rule).
 *
 * <p>Rule ids: StringTooLong, TooManyItems, FieldType, ImageInvalid, EnvNameInvalid, EnvNameReserved,
 * EnvValueInvalid, TopologyKeyInvalid, QueueNameInvalid, NodeSelectorInvalid, TolerationInvalid,
 * GpuProductInvalid, ClaimNameInvalid, PathInvalid, MountPathConflict; for the lifecycle fields and pod overrides:
 * ManagedByInvalid, PriorityClassInvalid, ResourceInvalid, MetadataKeyInvalid, MetadataKeyReserved, VolumeInvalid,
 * VolumeNameConflict, VolumeMountInvalid, SecretNameInvalid, SecurityContextInvalid.
 */
public final class WorkloadRules {
    private WorkloadRules() {}

    /** Divisors the API server accepts for a CPU resource, and for memory, ephemeral storage and hugepages. */
    static final Set<String> CPU_DIVISORS = Set.of("1m", "1");

    static final Set<String> BYTE_DIVISORS =
            Set.of("1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei");
    static final Set<String> TOLERATION_OPERATORS = Set.of("Exists", "Equal");
    static final Set<String> TAINT_EFFECTS = Set.of("NoSchedule", "PreferNoSchedule", "NoExecute");

    private static final Pattern PATH = Pattern.compile(WorkloadSyntax.ABSOLUTE_PATH);
    private static final Pattern FIELD_PATH = Pattern.compile(WorkloadSyntax.ENV_FIELD_PATH);
    private static final Pattern RESOURCE = Pattern.compile(WorkloadSyntax.ENV_RESOURCE);

    /** Checks the pod-bound parts of {@code spec}. */
    public static void check(MoETrainingJobSpec spec, List<PlanError> errors) {
        Checker c = new Checker(errors);
        var trainer = spec.trainer;
        if (trainer != null) {
            String image = c.string(trainer.image, "spec.trainer.image", SpecLimits.MAX_IMAGE_LENGTH);
            if (image != null && !ObjectNameRules.isImage(image)) {
                errors.add(new PlanError(
                        "ImageInvalid",
                        "spec.trainer.image",
                        image,
                        "is not an image reference: it contains spaces or characters other than printable ASCII",
                        "write e.g. registry.example/moe-trainer:1.0, or leave it empty for the operator's image"));
            }
            c.strings(trainer.command, "spec.trainer.command", SpecLimits.MAX_COMMAND_ITEMS, SpecLimits.MAX_ARG_LENGTH);
            c.strings(trainer.args, "spec.trainer.args", SpecLimits.MAX_ARGS, SpecLimits.MAX_ARG_LENGTH);
            if (c.list(trainer.env, "spec.trainer.env", SpecLimits.MAX_ENV)) {
                for (int i = 0; i < trainer.env.size(); i++) {
                    checkEnvVar(c, trainer.env.get(i), "spec.trainer.env[" + i + "]");
                }
            }
            PodOverrideRules.checkTrainer(c.errors, spec);
        }
        PodOverrideRules.checkPod(c.errors, spec);

        var nccl = spec.nccl;
        if (nccl != null) {
            c.string(nccl.socketIfname, "spec.nccl.socketIfname", SpecLimits.MAX_NCCL_SETTING_LENGTH);
            c.string(nccl.ibHca, "spec.nccl.ibHca", SpecLimits.MAX_NCCL_SETTING_LENGTH);
            if (c.map(nccl.extraEnv, "spec.nccl.extraEnv", SpecLimits.MAX_NCCL_EXTRA_ENV)) {
                for (Map.Entry<String, String> e : nccl.extraEnv.entrySet()) {
                    String field = "spec.nccl.extraEnv." + e.getKey();
                    checkEnvName(errors, e.getKey(), field);
                    c.string(e.getValue(), field, SpecLimits.MAX_ENV_VALUE_LENGTH);
                }
            }
        }

        if (spec.placement != null) {
            checkPlacement(c, spec.placement);
        }
        if (spec.resources != null) {
            String product = c.string(
                    spec.resources.gpuProduct, "spec.resources.gpuProduct", ObjectNameRules.MAX_LABEL_VALUE_LENGTH);
            if (product != null && !ObjectNameRules.isLabelValue(product)) {
                errors.add(new PlanError(
                        "GpuProductInvalid",
                        "spec.resources.gpuProduct",
                        product,
                        "is not a label value (it selects nodes by nvidia.com/gpu.product): letters, digits, '-',"
                                + " '_' and '.', starting and ending with a letter or digit",
                        "use the node label's value, e.g. NVIDIA-H100-80GB-HBM3"));
            }
        }

        var model = spec.model;
        if (model != null) {
            c.string(model.preset, "spec.model.preset", SpecLimits.MAX_PRESET_LENGTH);
            if (model.checkpoint != null) {
                String modelClaim = claim(c, model.checkpoint.claimName, "spec.model.checkpoint.claimName");
                String modelPath = path(c, model.checkpoint.path, "spec.model.checkpoint.path");
                if (modelClaim != null && modelPath != null) {
                    checkModelMount(errors, modelPath);
                }
            }
        }
        var training = spec.training;
        if (training != null) {
            if (training.checkpoint != null) {
                claim(c, training.checkpoint.claimName, "spec.training.checkpoint.claimName");
            }
            if (training.dataset != null) {
                claim(c, training.dataset.claimName, "spec.training.dataset.claimName");
                path(c, training.dataset.path, "spec.training.dataset.path");
            }
        }
    }

    private static void checkPlacement(Checker c, PlacementSpec placement) {
        List<PlanError> errors = c.errors;
        String priority = c.string(
                placement.priorityClassName,
                "spec.placement.priorityClassName",
                ObjectNameRules.MAX_DNS_SUBDOMAIN_LENGTH);
        if (priority != null && !priority.isEmpty() && !ObjectNameRules.isDns1123Subdomain(priority)) {
            errors.add(new PlanError(
                    "PriorityClassInvalid",
                    "spec.placement.priorityClassName",
                    priority,
                    "is not a PriorityClass name (a DNS-1123 subdomain: lowercase letters, digits, '-' and '.')",
                    "name a PriorityClass of the cluster (kubectl get priorityclasses), or leave it empty"));
        }
        List<String> keys = placement.topologyKeys;
        if (c.list(keys, "spec.placement.topologyKeys", SpecLimits.MAX_TOPOLOGY_KEYS)) {
            for (int i = 0; i < keys.size(); i++) {
                String field = "spec.placement.topologyKeys[" + i + "]";
                String k = c.string(keys.get(i), field, ObjectNameRules.MAX_QUALIFIED_NAME_LENGTH);
                if (k != null && !ObjectNameRules.isQualifiedName(k)) {
                    errors.add(new PlanError(
                            "TopologyKeyInvalid",
                            field,
                            k,
                            "is not a node label key",
                            "use a label key such as topology.kubernetes.io/rack or nvidia.com/gpu.clique"));
                }
            }
        }
        String queue =
                c.string(placement.queueName, "spec.placement.queueName", ObjectNameRules.MAX_LABEL_VALUE_LENGTH);
        if (queue != null && !ObjectNameRules.isQueueName(queue)) {
            errors.add(new PlanError(
                    "QueueNameInvalid",
                    "spec.placement.queueName",
                    queue,
                    "is not a LocalQueue name (lowercase letters, digits, '-' and '.', at most 63 characters;"
                            + " it is also the value of the pods' kueue.x-k8s.io/queue-name label)",
                    "use the name of a Kueue LocalQueue in the job's namespace, or leave it out"));
        }
        Map<String, String> selector = placement.nodeSelector;
        if (c.map(selector, "spec.placement.nodeSelector", SpecLimits.MAX_NODE_SELECTOR_ENTRIES)) {
            for (Map.Entry<String, String> e : selector.entrySet()) {
                String field = "spec.placement.nodeSelector." + e.getKey();
                if (!ObjectNameRules.isQualifiedName(e.getKey())) {
                    errors.add(new PlanError(
                            "NodeSelectorInvalid",
                            "spec.placement.nodeSelector",
                            e.getKey(),
                            "is not a node label key",
                            "use a label key such as node.kubernetes.io/instance-type"));
                }
                String v = c.string(e.getValue(), field, ObjectNameRules.MAX_LABEL_VALUE_LENGTH);
                if (v != null && !ObjectNameRules.isLabelValue(v)) {
                    errors.add(new PlanError(
                            "NodeSelectorInvalid",
                            field,
                            v,
                            "is not a label value (letters,"
                                    + " digits, '-', '_' and '.', starting and ending with a letter or digit, at most 63)",
                            "use the value of the node label"));
                }
            }
        }
        List<Toleration> tolerations = placement.tolerations;
        if (c.list(tolerations, "spec.placement.tolerations", SpecLimits.MAX_TOLERATIONS)) {
            for (int i = 0; i < tolerations.size(); i++) {
                checkToleration(c, tolerations.get(i), "spec.placement.tolerations[" + i + "]");
            }
        }
    }

    /** Kubernetes' toleration rules (core validation ValidateTolerations), without feature-gated operators. */
    private static void checkToleration(Checker c, Toleration t, String field) {
        List<PlanError> errors = c.errors;
        if (!c.object(t, field)) {
            return;
        }
        String key = c.string(t.getKey(), field + ".key", ObjectNameRules.MAX_QUALIFIED_NAME_LENGTH);
        String op = c.string(t.getOperator(), field + ".operator", 16);
        String value = c.string(t.getValue(), field + ".value", ObjectNameRules.MAX_LABEL_VALUE_LENGTH);
        String effect = c.string(t.getEffect(), field + ".effect", 32);
        if (key != null && !key.isEmpty() && !ObjectNameRules.isQualifiedName(key)) {
            errors.add(new PlanError(
                    "TolerationInvalid",
                    field + ".key",
                    key,
                    "is not a taint key",
                    "use a taint key such as nvidia.com/gpu"));
        }
        if (op != null && !TOLERATION_OPERATORS.contains(op)) {
            errors.add(new PlanError(
                    "TolerationInvalid",
                    field + ".operator",
                    op,
                    "is not a toleration operator",
                    "use Exists or Equal"));
        }
        if (effect != null && !effect.isEmpty() && !TAINT_EFFECTS.contains(effect)) {
            errors.add(new PlanError(
                    "TolerationInvalid",
                    field + ".effect",
                    effect,
                    "is not a taint effect",
                    "use NoSchedule, PreferNoSchedule or NoExecute, or leave it out for every effect"));
        }
        boolean exists = "Exists".equals(op);
        if (exists && value != null && !value.isEmpty()) {
            errors.add(new PlanError(
                    "TolerationInvalid",
                    field + ".value",
                    value,
                    "is set but operator is Exists (which matches any value)",
                    "remove the value, or use operator Equal"));
        } else if (!exists && value != null && !ObjectNameRules.isLabelValue(value)) {
            errors.add(new PlanError(
                    "TolerationInvalid",
                    field + ".value",
                    value,
                    "is not a taint value (letters," + " digits, '-', '_' and '.', at most 63)",
                    "use the taint's value"));
        }
        if ((key == null || key.isEmpty()) && !exists) {
            errors.add(new PlanError(
                    "TolerationInvalid",
                    field + ".operator",
                    op,
                    "must be Exists when the key is empty (a toleration without a key tolerates every taint)",
                    "set operator: Exists, or set the taint's key"));
        }
        if (t.getTolerationSeconds() != null && !"NoExecute".equals(effect)) {
            errors.add(new PlanError(
                    "TolerationInvalid",
                    field + ".tolerationSeconds",
                    t.getTolerationSeconds().toString(),
                    "only applies to effect NoExecute",
                    "set effect: NoExecute, or remove tolerationSeconds"));
        }
    }

    private static void checkEnvName(List<PlanError> errors, String name, String field) {
        if (!ObjectNameRules.isEnvName(name)) {
            errors.add(new PlanError(
                    "EnvNameInvalid",
                    field,
                    name,
                    "is not an environment variable name"
                            + " (letters, digits, '_', '-' and '.', not starting with a digit, at most "
                            + SpecLimits.MAX_ENV_NAME_LENGTH + " characters)",
                    "use a name such as NCCL_DEBUG"));
        } else if (RESERVED_ENV.contains(name)) {
            errors.add(new PlanError(
                    "EnvNameReserved",
                    field,
                    name,
                    "is set by the operator on every pod (rank"
                            + " layout and identity, docs/contract.md section 2) and cannot be overridden",
                    "remove it; the reserved names are " + String.join(", ", RESERVED_ENV)));
        }
    }

    private static void checkEnvVar(Checker c, EnvVar e, String field) {
        List<PlanError> errors = c.errors;
        if (!c.object(e, field)) {
            return;
        }
        String name = e.getName(); // checkEnvName bounds its length
        if (name == null) {
            errors.add(new PlanError("EnvNameInvalid", field + ".name", null, "is required", "name the variable"));
        } else {
            checkEnvName(errors, name, field + ".name");
        }
        String value = c.string(e.getValue(), field + ".value", SpecLimits.MAX_ENV_VALUE_LENGTH);
        EnvVarSource from = e.getValueFrom();
        if (from == null) {
            return;
        }
        if (value != null && !value.isEmpty()) {
            errors.add(new PlanError(
                    "EnvValueInvalid",
                    field + ".valueFrom",
                    null,
                    "is set together with value",
                    "use either value or valueFrom"));
        }
        long sources = java.util.stream.Stream.of(
                        from.getConfigMapKeyRef(),
                        from.getSecretKeyRef(),
                        from.getFieldRef(),
                        from.getResourceFieldRef(),
                        from.getFileKeyRef())
                .filter(s -> s != null)
                .count();
        if (sources != 1) {
            errors.add(new PlanError(
                    "EnvValueInvalid",
                    field + ".valueFrom",
                    null,
                    sources == 0 ? "names no source" : "names " + sources + " sources",
                    "use exactly one of configMapKeyRef, secretKeyRef, fieldRef, resourceFieldRef"));
        }
        if (from.getFileKeyRef() != null) {
            errors.add(new PlanError(
                    "EnvValueInvalid",
                    field + ".valueFrom.fileKeyRef",
                    null,
                    "is not supported: the pods have no volume of the job's own to read it from",
                    "use value, configMapKeyRef or secretKeyRef"));
        }
        if (from.getConfigMapKeyRef() != null) {
            checkKeyRef(
                    c,
                    from.getConfigMapKeyRef().getName(),
                    from.getConfigMapKeyRef().getKey(),
                    field + ".valueFrom.configMapKeyRef",
                    "ConfigMap");
        }
        if (from.getSecretKeyRef() != null) {
            checkKeyRef(
                    c,
                    from.getSecretKeyRef().getName(),
                    from.getSecretKeyRef().getKey(),
                    field + ".valueFrom.secretKeyRef",
                    "Secret");
        }
        ObjectFieldSelector fieldRef = from.getFieldRef();
        if (fieldRef != null) {
            String api = c.string(fieldRef.getApiVersion(), field + ".valueFrom.fieldRef.apiVersion", 16);
            if (api != null && !api.isEmpty() && !api.equals("v1")) {
                errors.add(new PlanError(
                        "EnvValueInvalid",
                        field + ".valueFrom.fieldRef.apiVersion",
                        api,
                        "is not v1",
                        "use v1 or leave it out"));
            }
            String path = c.string(fieldRef.getFieldPath(), field + ".valueFrom.fieldRef.fieldPath", 512);
            if (path == null || !FIELD_PATH.matcher(path).matches()) {
                errors.add(new PlanError(
                        "EnvValueInvalid",
                        field + ".valueFrom.fieldRef.fieldPath",
                        path,
                        path == null ? "is required" : "is not a pod field a container's env can read",
                        "use metadata.name, metadata.namespace, metadata.uid, metadata.labels['<key>'],"
                                + " metadata.annotations['<key>'], spec.nodeName, spec.serviceAccountName,"
                                + " status.hostIP, status.hostIPs, status.podIP or status.podIPs"));
            }
        }
        ResourceFieldSelector res = from.getResourceFieldRef();
        if (res != null) {
            String f = field + ".valueFrom.resourceFieldRef";
            String container =
                    c.string(res.getContainerName(), f + ".containerName", ObjectNameRules.MAX_DNS_LABEL_LENGTH);
            if (container != null && !container.isEmpty() && !container.equals(TRAINER_CONTAINER)) {
                errors.add(new PlanError(
                        "EnvValueInvalid",
                        f + ".containerName",
                        container,
                        "is not a container of the pod (its only container is " + TRAINER_CONTAINER + ")",
                        "use " + TRAINER_CONTAINER + " or leave it out"));
            }
            String resource = c.string(res.getResource(), f + ".resource", 256);
            if (resource == null || !RESOURCE.matcher(resource).matches()) {
                errors.add(new PlanError(
                        "EnvValueInvalid",
                        f + ".resource",
                        resource,
                        resource == null ? "is required" : "is not a container resource",
                        "use limits.cpu, limits.memory, limits.ephemeral-storage, requests.* or"
                                + " limits.hugepages-<size>"));
            } else if (res.getDivisor() != null) {
                String divisor = res.getDivisor().toString();
                Set<String> allowed = resource.endsWith(".cpu") ? CPU_DIVISORS : BYTE_DIVISORS;
                if (!allowed.contains(divisor)) {
                    errors.add(new PlanError(
                            "EnvValueInvalid",
                            f + ".divisor",
                            "\"" + divisor + "\"",
                            "is not a divisor for " + resource,
                            "use one of "
                                    + String.join(
                                            ", ", allowed.stream().sorted().toList())));
                }
            }
        }
    }

    /** The name and key of a configMapKeyRef or secretKeyRef. */
    private static void checkKeyRef(Checker c, String refName, String key, String field, String kind) {
        String name = c.string(refName, field + ".name", ObjectNameRules.MAX_DNS_SUBDOMAIN_LENGTH);
        if (name == null || !ObjectNameRules.isDns1123Subdomain(name)) {
            c.errors.add(new PlanError(
                    "EnvValueInvalid",
                    field + ".name",
                    name,
                    name == null ? "is required" : "is not an object name (a DNS-1123 subdomain)",
                    "name the " + kind + " in the job's namespace"));
        }
        String k = c.string(key, field + ".key", ObjectNameRules.MAX_DNS_SUBDOMAIN_LENGTH);
        if (k == null || !ObjectNameRules.isConfigMapKey(k)) {
            c.errors.add(new PlanError(
                    "EnvValueInvalid",
                    field + ".key",
                    k,
                    k == null ? "is required" : "is not a key (letters, digits, '-', '_' and '.')",
                    "name the key to read"));
        }
    }

    private static String claim(Checker c, String claimName, String field) {
        String name = c.string(claimName, field, ObjectNameRules.MAX_DNS_SUBDOMAIN_LENGTH);
        if (name != null && !ObjectNameRules.isDns1123Subdomain(name)) {
            c.errors.add(new PlanError(
                    "ClaimNameInvalid",
                    field,
                    name,
                    "is not a PersistentVolumeClaim name (a DNS-1123 subdomain: lowercase letters, digits, '-'"
                            + " and '.')",
                    "name a claim in the job's namespace"));
            return null;
        }
        return name;
    }

    private static String path(Checker c, String path, String field) {
        String p = c.string(path, field, SpecLimits.MAX_PATH_LENGTH);
        if (p != null && !PATH.matcher(p).matches()) {
            c.errors.add(new PlanError(
                    "PathInvalid",
                    field,
                    p,
                    "is not an absolute, normalised path (it must start"
                            + " with '/' and have no empty, '.' or '..' segments, no trailing '/' and no control characters)",
                    "write the path in the pod, e.g. "
                            + (field.contains("dataset") ? "/data/tokens.bin" : "/models/Qwen3-30B-A3B")));
            return null;
        }
        return p;
    }

    static void checkModelMount(List<PlanError> errors, String modelPath) {
        String mount = WorkloadSyntax.modelMountPath(modelPath);
        String clash = null;
        if (IMAGE_DIRECTORIES.contains(mount)) {
            clash = "would hide the image's " + mount;
        } else {
            for (String own : OPERATOR_MOUNTS) {
                String reserved = " (the operator's mounts are " + String.join(", ", OPERATOR_MOUNTS) + ")";
                if (mount.equals(own)) {
                    clash = "is where the operator mounts a volume of its own" + reserved;
                } else if (own.startsWith(mount + "/")) {
                    clash = "would contain the operator's mount at " + own + reserved;
                } else if (mount.startsWith(own + "/")) {
                    clash = "lies inside the operator's mount at " + own + reserved;
                }
                if (clash != null) {
                    break;
                }
            }
        }
        if (clash != null) {
            errors.add(new PlanError(
                    "MountPathConflict",
                    "spec.model.checkpoint.path",
                    modelPath,
                    "puts the model claim's mount at " + mount + " (the path's parent directory), which " + clash,
                    "put the model in a directory of its own, e.g. /models/<name>"));
        }
    }

    /** Bounded reads that record problems instead of throwing. */
    static final class Checker {
        final List<PlanError> errors;

        Checker(List<PlanError> errors) {
            this.errors = errors;
        }

        /** {@code s}, or null when absent (or too long: reported). */
        String string(String s, String field, int maxLength) {
            if (s == null) {
                return null;
            }
            int length = s.codePointCount(0, s.length()); // characters, as the API server counts maxLength
            if (length > maxLength) {
                errors.add(new PlanError(
                        "StringTooLong",
                        field,
                        s,
                        "has " + length + " characters, more than " + maxLength,
                        "shorten it to at most " + maxLength + " characters"));
                return null;
            }
            return s;
        }

        /** Whether {@code list} holds at most {@code max} items (absent: false, nothing reported). */
        boolean list(List<?> list, String field, int max) {
            if (list == null) {
                return false;
            }
            if (list.size() > max) {
                errors.add(new PlanError(
                        "TooManyItems",
                        field,
                        null,
                        "has " + list.size() + " items, more than " + max,
                        "use at most " + max));
                return false;
            }
            return true;
        }

        /** Whether {@code map} holds at most {@code max} entries (absent: false, nothing reported). */
        boolean map(Map<?, ?> map, String field, int max) {
            if (map == null) {
                return false;
            }
            if (map.size() > max) {
                errors.add(new PlanError(
                        "TooManyItems",
                        field,
                        null,
                        "has " + map.size() + " entries, more than " + max,
                        "use at most " + max));
                return false;
            }
            return true;
        }

        /** Whether the list item {@code item} is there (a null item is reported: it is no object). */
        boolean object(Object item, String field) {
            if (item == null) {
                errors.add(new PlanError(
                        "FieldType", field, "null", "is not an object", "write an object (a map of fields)"));
                return false;
            }
            return true;
        }

        /** A list of at most {@code maxItems} strings of at most {@code maxLength} characters. */
        void strings(List<String> list, String field, int maxItems, int maxLength) {
            if (list(list, field, maxItems)) {
                for (int i = 0; i < list.size(); i++) {
                    string(list.get(i), field + "[" + i + "]", maxLength);
                }
            }
        }
    }
}
