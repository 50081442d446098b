package dev.moe.plan;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The rules for what the operator copies from a job into its pods (images, commands, env, node selector,
 * tolerations, topology keys, claims, mount paths): every value must be one the API server accepts in a pod,
 * so a job that passes these rules never leaves the operator with a pod it cannot create. Plain Java over the
 * spec's JSON shape; the CRD says the same where its schema can (patterns, lengths, CEL), this class says all of
 * it (files checked offline, objects stored before the CRD carried a rule).
 *
 * <p>Rule ids: StringTooLong, TooManyItems, FieldType, ImageInvalid, EnvNameInvalid, EnvNameReserved,
 * EnvValueInvalid, TopologyKeyInvalid, QueueNameInvalid, NodeSelectorInvalid, TolerationInvalid,
 * GpuProductInvalid, ClaimNameInvalid, PathInvalid, MountPathConflict.
 */
public final class WorkloadRules {
    private WorkloadRules() {
    }

    /**
     * Env the operator sets on every pod from the plan and the pod's identity; spec.trainer.env and
     * spec.nccl.extraEnv may not set them.
     */
    public static final List<String> RESERVED_ENV = TrainerContract.IDENTITY_ENV;
    /** {@link #RESERVED_ENV} as a CEL list literal, for the CRD's rules (WorkloadRulesTest compares the two). */
    public static final String RESERVED_ENV_CEL = "['" + TrainerContract.MASTER_ADDR + "', '"
            + TrainerContract.MASTER_PORT + "', '"
            + TrainerContract.NNODES + "', '"
            + TrainerContract.NODE_RANK + "', '"
            + TrainerContract.NPROC_PER_NODE + "', '"
            + TrainerContract.WORLD_SIZE + "', '"
            + TrainerContract.MOE_PLAN_PATH + "', '"
            + TrainerContract.MOE_TENSOR_PARALLEL + "', '"
            + TrainerContract.MOE_EXPERT_PARALLEL + "', '"
            + TrainerContract.MOE_CONTEXT_PARALLEL + "', '"
            + TrainerContract.MOE_DATA_PARALLEL + "', '"
            + TrainerContract.MOE_RESTART_ATTEMPT + "', '"
            + TrainerContract.MOE_JOB_NAME + "', '"
            + TrainerContract.POD_NAME + "', '"
            + TrainerContract.POD_NAMESPACE + "']";

    /** The trainer container's name: the only container of a pod. */
    public static final String TRAINER_CONTAINER = TrainerContract.TRAINER_CONTAINER;

    /** Every mount the operator makes itself; the model claim's mount may not be, contain or lie inside one. */
    public static final List<String> OPERATOR_MOUNTS = List.of(TrainerContract.PLAN_DIR, TrainerContract.SHM_DIR,
            TrainerContract.CHECKPOINT_DIR, TrainerContract.DATA_DIR);
    /** {@link #OPERATOR_MOUNTS} as a CEL list literal, a compile-time constant for the CRD's annotations. */
    public static final String OPERATOR_MOUNTS_CEL = "['" + TrainerContract.PLAN_DIR + "', '" + TrainerContract.SHM_DIR
            + "', '" + TrainerContract.CHECKPOINT_DIR + "', '" + TrainerContract.DATA_DIR + "']";
    /** Directories of the container image a volume must not hide (the trainer would not start). */
    public static final List<String> IMAGE_DIRECTORIES = List.of("/", "/bin", "/boot", "/dev", "/etc", "/home",
            "/lib", "/lib64", "/opt", "/proc", "/root", "/run", "/sbin", "/sys", "/tmp", "/usr", "/var");
    /** {@link #IMAGE_DIRECTORIES} as a CEL list literal. */
    public static final String IMAGE_DIRECTORIES_CEL = "['/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib',"
            + " '/lib64', '/opt', '/proc', '/root', '/run', '/sbin', '/sys', '/tmp', '/usr', '/var']";

    /**
     * An absolute, normalised path: '/'-separated segments, none empty, '.' or '..', no trailing '/', no control
     * characters.
     */
    public static final String ABSOLUTE_PATH = "^(/([^/.\\x00-\\x1f][^/\\x00-\\x1f]*|\\.[^/.\\x00-\\x1f][^/\\x00-\\x1f]*"
            + "|\\.\\.[^/\\x00-\\x1f]+))+$";
    /** spec.trainer.env[*].valueFrom.fieldRef.fieldPath values a container's env may read (downward API). */
    public static final String ENV_FIELD_PATH = "^(metadata\\.(name|namespace|uid)|metadata\\.(labels|annotations)\\['"
            + ObjectNameRules.QUALIFIED_NAME_BODY + "'\\]|spec\\.(nodeName|serviceAccountName)"
            + "|status\\.(hostIP|hostIPs|podIP|podIPs))$";
    /** spec.trainer.env[*].valueFrom.resourceFieldRef.resource values. */
    public static final String ENV_RESOURCE = "^(limits|requests)\\.(cpu|memory|ephemeral-storage|hugepages-[-A-Za-z0-9_.]+)$";
    /** Divisors the API server accepts for a CPU resource, and for memory, ephemeral storage and hugepages. */
    static final Set<String> CPU_DIVISORS = Set.of("1m", "1");
    static final Set<String> BYTE_DIVISORS = Set.of("1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi",
            "1Ti", "1Pi", "1Ei");
    static final Set<String> TOLERATION_OPERATORS = Set.of("Exists", "Equal");
    static final Set<String> TAINT_EFFECTS = Set.of("NoSchedule", "PreferNoSchedule", "NoExecute");

    private static final Pattern PATH = Pattern.compile(ABSOLUTE_PATH);
    private static final Pattern FIELD_PATH = Pattern.compile(ENV_FIELD_PATH);
    private static final Pattern RESOURCE = Pattern.compile(ENV_RESOURCE);

    /** Checks the pod-bound parts of {@code spec} (JSON shape of MoETrainingJob.spec, defaults applied). */
    public static void check(JsonNode spec, List<PlanError> errors) {
        Checker c = new Checker(errors);
        JsonNode trainer = spec.path("trainer");
        String image = c.string(trainer.path("image"), "spec.trainer.image", SpecLimits.MAX_IMAGE_LENGTH);
        if (image != null && !ObjectNameRules.isImage(image)) {
            errors.add(new PlanError("ImageInvalid", "spec.trainer.image", image,
                    "is not an image reference: it contains spaces or characters other than printable ASCII",
                    "write e.g. registry.example/moe-trainer:1.0, or leave it empty for the operator's image"));
        }
        c.strings(trainer.path("command"), "spec.trainer.command", SpecLimits.MAX_COMMAND_ITEMS,
                SpecLimits.MAX_ARG_LENGTH);
        c.strings(trainer.path("args"), "spec.trainer.args", SpecLimits.MAX_ARGS, SpecLimits.MAX_ARG_LENGTH);
        JsonNode env = trainer.path("env");
        if (c.list(env, "spec.trainer.env", SpecLimits.MAX_ENV)) {
            for (int i = 0; i < env.size(); i++) {
                checkEnvVar(c, env.get(i), "spec.trainer.env[" + i + "]");
            }
        }

        JsonNode nccl = spec.path("nccl");
        c.string(nccl.path("socketIfname"), "spec.nccl.socketIfname", SpecLimits.MAX_NCCL_SETTING_LENGTH);
        c.string(nccl.path("ibHca"), "spec.nccl.ibHca", SpecLimits.MAX_NCCL_SETTING_LENGTH);
        JsonNode extra = nccl.path("extraEnv");
        if (c.map(extra, "spec.nccl.extraEnv", SpecLimits.MAX_NCCL_EXTRA_ENV)) {
            Iterator<Map.Entry<String, JsonNode>> it = extra.fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                String field = "spec.nccl.extraEnv." + e.getKey();
                checkEnvName(errors, e.getKey(), field);
                c.string(e.getValue(), field, SpecLimits.MAX_ENV_VALUE_LENGTH);
            }
        }

        checkPlacement(c, spec.path("placement"));
        String product = c.string(spec.path("resources").path("gpuProduct"), "spec.resources.gpuProduct",
                ObjectNameRules.MAX_LABEL_VALUE_LENGTH);
        if (product != null && !ObjectNameRules.isLabelValue(product)) {
            errors.add(new PlanError("GpuProductInvalid", "spec.resources.gpuProduct", product,
                    "is not a label value (it selects nodes by nvidia.com/gpu.product): letters, digits, '-', '_'"
                            + " and '.', starting and ending with a letter or digit",
                    "use the node label's value, e.g. NVIDIA-H100-80GB-HBM3"));
        }

        JsonNode model = spec.path("model");
        c.string(model.path("preset"), "spec.model.preset", SpecLimits.MAX_PRESET_LENGTH);
        JsonNode modelCheckpoint = model.path("checkpoint");
        String modelClaim = claim(c, modelCheckpoint.path("claimName"), "spec.model.checkpoint.claimName");
        String modelPath = path(c, modelCheckpoint.path("path"), "spec.model.checkpoint.path");
        if (modelClaim != null && modelPath != null) {
            checkModelMount(errors, modelPath);
        }
        claim(c, spec.path("training").path("checkpoint").path("claimName"), "spec.training.checkpoint.claimName");
        JsonNode dataset = spec.path("training").path("dataset");
        claim(c, dataset.path("claimName"), "spec.training.dataset.claimName");
        path(c, dataset.path("path"), "spec.training.dataset.path");
    }

    private static void checkPlacement(Checker c, JsonNode placement) {
        List<PlanError> errors = c.errors;
        JsonNode keys = placement.path("topologyKeys");
        if (c.list(keys, "spec.placement.topologyKeys", SpecLimits.MAX_TOPOLOGY_KEYS)) {
            for (int i = 0; i < keys.size(); i++) {
                String field = "spec.placement.topologyKeys[" + i + "]";
                String k = c.string(keys.get(i), field, ObjectNameRules.MAX_QUALIFIED_NAME_LENGTH);
                if (k != null && !ObjectNameRules.isQualifiedName(k)) {
                    errors.add(new PlanError("TopologyKeyInvalid", field, k, "is not a node label key",
                            "use a label key such as topology.kubernetes.io/rack or nvidia.com/gpu.clique"));
                }
            }
        }
        String queue = c.string(placement.path("queueName"), "spec.placement.queueName",
                ObjectNameRules.MAX_LABEL_VALUE_LENGTH);
        if (queue != null && !ObjectNameRules.isQueueName(queue)) {
            errors.add(new PlanError("QueueNameInvalid", "spec.placement.queueName", queue,
                    "is not a LocalQueue name (lowercase letters, digits, '-' and '.', at most 63 characters;"
                            + " it is also the value of the pods' kueue.x-k8s.io/queue-name label)",
                    "use the name of a Kueue LocalQueue in the job's namespace, or leave it out"));
        }
        JsonNode selector = placement.path("nodeSelector");
        if (c.map(selector, "spec.placement.nodeSelector", SpecLimits.MAX_NODE_SELECTOR_ENTRIES)) {
            Iterator<Map.Entry<String, JsonNode>> it = selector.fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                String field = "spec.placement.nodeSelector." + e.getKey();
                if (!ObjectNameRules.isQualifiedName(e.getKey())) {
                    errors.add(new PlanError("NodeSelectorInvalid", "spec.placement.nodeSelector", e.getKey(),
                            "is not a node label key", "use a label key such as node.kubernetes.io/instance-type"));
                }
                String v = c.string(e.getValue(), field, ObjectNameRules.MAX_LABEL_VALUE_LENGTH);
                if (v != null && !ObjectNameRules.isLabelValue(v)) {
                    errors.add(new PlanError("NodeSelectorInvalid", field, v, "is not a label value (letters,"
                            + " digits, '-', '_' and '.', starting and ending with a letter or digit, at most 63)",
                            "use the value of the node label"));
                }
            }
        }
        JsonNode tolerations = placement.path("tolerations");
        if (c.list(tolerations, "spec.placement.tolerations", SpecLimits.MAX_TOLERATIONS)) {
            for (int i = 0; i < tolerations.size(); i++) {
                checkToleration(c, tolerations.get(i), "spec.placement.tolerations[" + i + "]");
            }
        }
    }

    /** Kubernetes' toleration rules (core validation ValidateTolerations), without feature-gated operators. */
    private static void checkToleration(Checker c, JsonNode t, String field) {
        List<PlanError> errors = c.errors;
        if (!c.object(t, field)) {
            return;
        }
        String key = c.string(t.path("key"), field + ".key", ObjectNameRules.MAX_QUALIFIED_NAME_LENGTH);
        String op = c.string(t.path("operator"), field + ".operator", 16);
        String value = c.string(t.path("value"), field + ".value", ObjectNameRules.MAX_LABEL_VALUE_LENGTH);
        String effect = c.string(t.path("effect"), field + ".effect", 32);
        if (key != null && !key.isEmpty() && !ObjectNameRules.isQualifiedName(key)) {
            errors.add(new PlanError("TolerationInvalid", field + ".key", key, "is not a taint key",
                    "use a taint key such as nvidia.com/gpu"));
        }
        if (op != null && !TOLERATION_OPERATORS.contains(op)) {
            errors.add(new PlanError("TolerationInvalid", field + ".operator", op, "is not a toleration operator",
                    "use Exists or Equal"));
        }
        if (effect != null && !effect.isEmpty() && !TAINT_EFFECTS.contains(effect)) {
            errors.add(new PlanError("TolerationInvalid", field + ".effect", effect, "is not a taint effect",
                    "use NoSchedule, PreferNoSchedule or NoExecute, or leave it out for every effect"));
        }
        boolean exists = "Exists".equals(op);
        if (exists && value != null && !value.isEmpty()) {
            errors.add(new PlanError("TolerationInvalid", field + ".value", value,
                    "is set but operator is Exists (which matches any value)",
                    "remove the value, or use operator Equal"));
        } else if (!exists && value != null && !ObjectNameRules.isLabelValue(value)) {
            errors.add(new PlanError("TolerationInvalid", field + ".value", value, "is not a taint value (letters,"
                    + " digits, '-', '_' and '.', at most 63)", "use the taint's value"));
        }
        if ((key == null || key.isEmpty()) && !exists) {
            errors.add(new PlanError("TolerationInvalid", field + ".operator", op,
                    "must be Exists when the key is empty (a toleration without a key tolerates every taint)",
                    "set operator: Exists, or set the taint's key"));
        }
        if (t.has("tolerationSeconds") && !t.get("tolerationSeconds").isNull() && !"NoExecute".equals(effect)) {
            errors.add(new PlanError("TolerationInvalid", field + ".tolerationSeconds",
                    t.get("tolerationSeconds").toString(), "only applies to effect NoExecute",
                    "set effect: NoExecute, or remove tolerationSeconds"));
        }
    }

    private static void checkEnvName(List<PlanError> errors, String name, String field) {
        if (!ObjectNameRules.isEnvName(name)) {
            errors.add(new PlanError("EnvNameInvalid", field, name, "is not an environment variable name"
                    + " (letters, digits, '_', '-' and '.', not starting with a digit, at most "
                    + SpecLimits.MAX_ENV_NAME_LENGTH + " characters)", "use a name such as NCCL_DEBUG"));
        } else if (RESERVED_ENV.contains(name)) {
            errors.add(new PlanError("EnvNameReserved", field, name, "is set by the operator on every pod (rank"
                    + " layout and identity, docs/contract.md section 2) and cannot be overridden",
                    "remove it; the reserved names are " + String.join(", ", RESERVED_ENV)));
        }
    }

    private static void checkEnvVar(Checker c, JsonNode e, String field) {
        List<PlanError> errors = c.errors;
        if (!c.object(e, field)) {
            return;
        }
        String name = c.string(e.path("name"), field + ".name", Integer.MAX_VALUE); // checkEnvName bounds it
        if (name == null) {
            errors.add(new PlanError("EnvNameInvalid", field + ".name", null, "is required", "name the variable"));
        } else {
            checkEnvName(errors, name, field + ".name");
        }
        String value = c.string(e.path("value"), field + ".value", SpecLimits.MAX_ENV_VALUE_LENGTH);
        JsonNode from = e.path("valueFrom");
        if (from.isMissingNode() || from.isNull()) {
            return;
        }
        if (!c.object(from, field + ".valueFrom")) {
            return;
        }
        if (value != null && !value.isEmpty()) {
            errors.add(new PlanError("EnvValueInvalid", field + ".valueFrom", null,
                    "is set together with value", "use either value or valueFrom"));
        }
        int sources = 0;
        for (String s : List.of("configMapKeyRef", "secretKeyRef", "fieldRef", "resourceFieldRef", "fileKeyRef")) {
            if (from.has(s) && !from.get(s).isNull()) {
                sources++;
            }
        }
        if (sources != 1) {
            errors.add(new PlanError("EnvValueInvalid", field + ".valueFrom", null, sources == 0
                    ? "names no source" : "names " + sources + " sources",
                    "use exactly one of configMapKeyRef, secretKeyRef, fieldRef, resourceFieldRef"));
        }
        if (from.has("fileKeyRef") && !from.get("fileKeyRef").isNull()) {
            errors.add(new PlanError("EnvValueInvalid", field + ".valueFrom.fileKeyRef", null,
                    "is not supported: the pods have no volume of the job's own to read it from",
                    "use value, configMapKeyRef or secretKeyRef"));
        }
        for (String s : List.of("configMapKeyRef", "secretKeyRef")) {
            JsonNode ref = from.path(s);
            if (ref.isMissingNode() || ref.isNull() || !c.object(ref, field + ".valueFrom." + s)) {
                continue;
            }
            String refName = c.string(ref.path("name"), field + ".valueFrom." + s + ".name",
                    ObjectNameRules.MAX_DNS_SUBDOMAIN_LENGTH);
            if (refName == null || !ObjectNameRules.isDns1123Subdomain(refName)) {
                errors.add(new PlanError("EnvValueInvalid", field + ".valueFrom." + s + ".name", refName,
                        refName == null ? "is required" : "is not an object name (a DNS-1123 subdomain)",
                        "name the " + (s.startsWith("secret") ? "Secret" : "ConfigMap") + " in the job's namespace"));
            }
            String key = c.string(ref.path("key"), field + ".valueFrom." + s + ".key",
                    ObjectNameRules.MAX_DNS_SUBDOMAIN_LENGTH);
            if (key == null || !ObjectNameRules.isConfigMapKey(key)) {
                errors.add(new PlanError("EnvValueInvalid", field + ".valueFrom." + s + ".key", key,
                        key == null ? "is required" : "is not a key (letters, digits, '-', '_' and '.')",
                        "name the key to read"));
            }
        }
        JsonNode fieldRef = from.path("fieldRef");
        if (!fieldRef.isMissingNode() && !fieldRef.isNull() && c.object(fieldRef, field + ".valueFrom.fieldRef")) {
            String api = c.string(fieldRef.path("apiVersion"), field + ".valueFrom.fieldRef.apiVersion", 16);
            if (api != null && !api.isEmpty() && !api.equals("v1")) {
                errors.add(new PlanError("EnvValueInvalid", field + ".valueFrom.fieldRef.apiVersion", api,
                        "is not v1", "use v1 or leave it out"));
            }
            String path = c.string(fieldRef.path("fieldPath"), field + ".valueFrom.fieldRef.fieldPath", 512);
            if (path == null || !FIELD_PATH.matcher(path).matches()) {
                errors.add(new PlanError("EnvValueInvalid", field + ".valueFrom.fieldRef.fieldPath", path,
                        path == null ? "is required" : "is not a pod field a container's env can read",
                        "use metadata.name, metadata.namespace, metadata.uid, metadata.labels['<key>'],"
                                + " metadata.annotations['<key>'], spec.nodeName, spec.serviceAccountName,"
                                + " status.hostIP, status.hostIPs, status.podIP or status.podIPs"));
            }
        }
        JsonNode res = from.path("resourceFieldRef");
        if (!res.isMissingNode() && !res.isNull() && c.object(res, field + ".valueFrom.resourceFieldRef")) {
            String f = field + ".valueFrom.resourceFieldRef";
            String container = c.string(res.path("containerName"), f + ".containerName",
                    ObjectNameRules.MAX_DNS_LABEL_LENGTH);
            if (container != null && !container.isEmpty() && !container.equals(TRAINER_CONTAINER)) {
                errors.add(new PlanError("EnvValueInvalid", f + ".containerName", container,
                        "is not a container of the pod (its only container is " + TRAINER_CONTAINER + ")",
                        "use " + TRAINER_CONTAINER + " or leave it out"));
            }
            String resource = c.string(res.path("resource"), f + ".resource", 256);
            if (resource == null || !RESOURCE.matcher(resource).matches()) {
                errors.add(new PlanError("EnvValueInvalid", f + ".resource", resource,
                        resource == null ? "is required" : "is not a container resource",
                        "use limits.cpu, limits.memory, limits.ephemeral-storage, requests.* or"
                                + " limits.hugepages-<size>"));
            } else {
                JsonNode d = res.path("divisor");
                if (!d.isMissingNode() && !d.isNull()) {
                    String divisor = d.isTextual() ? d.textValue() : d.isIntegralNumber() ? d.asText() : null;
                    Set<String> allowed = resource.endsWith(".cpu") ? CPU_DIVISORS : BYTE_DIVISORS;
                    if (divisor == null || !allowed.contains(divisor)) {
                        errors.add(new PlanError("EnvValueInvalid", f + ".divisor", d.toString(),
                                "is not a divisor for " + resource,
                                "use one of " + String.join(", ", allowed.stream().sorted().toList())));
                    }
                }
            }
        }
    }

    private static String claim(Checker c, JsonNode n, String field) {
        String name = c.string(n, field, ObjectNameRules.MAX_DNS_SUBDOMAIN_LENGTH);
        if (name != null && !ObjectNameRules.isDns1123Subdomain(name)) {
            c.errors.add(new PlanError("ClaimNameInvalid", field, name,
                    "is not a PersistentVolumeClaim name (a DNS-1123 subdomain: lowercase letters, digits, '-'"
                            + " and '.')", "name a claim in the job's namespace"));
            return null;
        }
        return name;
    }

    private static String path(Checker c, JsonNode n, String field) {
        String p = c.string(n, field, SpecLimits.MAX_PATH_LENGTH);
        if (p != null && !PATH.matcher(p).matches()) {
            c.errors.add(new PlanError("PathInvalid", field, p, "is not an absolute, normalised path (it must start"
                    + " with '/' and have no empty, '.' or '..' segments, no trailing '/' and no control characters)",
                    "write the path in the pod, e.g. " + (field.contains("dataset") ? "/data/tokens.bin"
                            : "/models/Qwen3-30B-A3B")));
            return null;
        }
        return p;
    }

    /**
     * Where the model claim is mounted: the parent of spec.model.checkpoint.path (the claim holds the model
     * directory: path /models/Qwen3-30B-A3B mounts the claim at /models), or the path itself when it is a
     * top-level directory. The operator's pods use this (GangPodFactory.modelMountPath gives the same).
     */
    public static String modelMountPath(String path) {
        String p = path.endsWith("/") && path.length() > 1 ? path.substring(0, path.length() - 1) : path;
        int slash = p.lastIndexOf('/');
        return slash > 0 ? p.substring(0, slash) : p;
    }

    private static void checkModelMount(List<PlanError> errors, String modelPath) {
        String mount = modelMountPath(modelPath);
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
            errors.add(new PlanError("MountPathConflict", "spec.model.checkpoint.path", modelPath,
                    "puts the model claim's mount at " + mount + " (the path's parent directory), which " + clash,
                    "put the model in a directory of its own, e.g. /models/<name>"));
        }
    }

    /** Typed, bounded reads that record problems instead of throwing. */
    private static final class Checker {
        final List<PlanError> errors;

        Checker(List<PlanError> errors) {
            this.errors = errors;
        }

        /** The string at {@code n}, or null when absent (or not a string / too long: reported). */
        String string(JsonNode n, String field, int maxLength) {
            if (n == null || n.isMissingNode() || n.isNull()) {
                return null;
            }
            if (!n.isTextual()) {
                errors.add(new PlanError("FieldType", field, n.toString(), "is not a string", "write a string"));
                return null;
            }
            String s = n.textValue();
            int length = s.codePointCount(0, s.length()); // characters, as the API server counts maxLength
            if (length > maxLength) {
                errors.add(new PlanError("StringTooLong", field, s, "has " + length + " characters, more than "
                        + maxLength, "shorten it to at most " + maxLength + " characters"));
                return null;
            }
            return s;
        }

        /** Whether {@code n} is a list of at most {@code max} items (absent: false, nothing reported). */
        boolean list(JsonNode n, String field, int max) {
            if (n == null || n.isMissingNode() || n.isNull()) {
                return false;
            }
            if (!n.isArray()) {
                errors.add(new PlanError("FieldType", field, n.toString(), "is not a list", "write a list"));
                return false;
            }
            if (n.size() > max) {
                errors.add(new PlanError("TooManyItems", field, null, "has " + n.size() + " items, more than " + max,
                        "use at most " + max));
                return false;
            }
            return true;
        }

        /** Whether {@code n} is a map of at most {@code max} entries (absent: false, nothing reported). */
        boolean map(JsonNode n, String field, int max) {
            if (n == null || n.isMissingNode() || n.isNull()) {
                return false;
            }
            if (!object(n, field)) {
                return false;
            }
            if (n.size() > max) {
                errors.add(new PlanError("TooManyItems", field, null, "has " + n.size() + " entries, more than " + max,
                        "use at most " + max));
                return false;
            }
            return true;
        }

        boolean object(JsonNode n, String field) {
            if (!n.isObject()) {
                errors.add(new PlanError("FieldType", field, n.toString(), "is not an object", "write an object"));
                return false;
            }
            return true;
        }

        /** A list of at most {@code maxItems} strings of at most {@code maxLength} characters. */
        void strings(JsonNode n, String field, int maxItems, int maxLength) {
            if (list(n, field, maxItems)) {
                for (int i = 0; i < n.size(); i++) {
                    string(n.get(i), field + "[" + i + "]", maxLength);
                }
            }
        }
    }
}
