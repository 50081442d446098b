package dev.moe.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.List;

/**
 * The CRD schema of the Kubernetes types a job passes into its pods ({@code spec.trainer.env},
 * {@code spec.placement.tolerations}): the same fields as Fabric8's EnvVar and Toleration, with the bounds and
 * rules the API server applies to a pod, so {@code kubectl apply} refuses a job whose pods it would refuse.
 * The pod overrides ({@code spec.pod.volumes}, {@code spec.trainer.volumeMounts}, the security contexts,
 * {@code spec.pod.imagePullSecrets}) are the subset of Fabric8's types a training pod needs; a field outside the
 * subset is pruned by the API server, and a volume whose only source was pruned is refused (exactly one source).
 * Schema only: the generator reads these classes through {@code @SchemaFrom}; the Java fields stay Fabric8's
 * types, which the pod factory copies unchanged. The plan engine's WorkloadRules checks the same rules.
 */
public final class PodFieldSchemas {
    private PodFieldSchemas() {}

    /** One environment variable of the trainer container. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @ValidationRule(
            value = "!(self.name in " + WorkloadSyntax.RESERVED_ENV_CEL + ")",
            message = "spec.trainer.env: the operator sets MASTER_ADDR, MASTER_PORT, NNODES, NODE_RANK, NPROC_PER_NODE,"
                    + " WORLD_SIZE, MOE_PLAN_PATH, MOE_RESTART_ATTEMPT, MOE_JOB_NAME, POD_NAME, POD_NAMESPACE and"
                    + " MOE_{TENSOR,EXPERT,CONTEXT,DATA}_PARALLEL on every pod (docs/contract.md); remove them",
            reason = "FieldValueForbidden")
    @ValidationRule(
            value = "!has(self.valueFrom) || !has(self.value) || self.value == ''",
            message = "spec.trainer.env: a variable has either value or valueFrom, not both",
            reason = "FieldValueInvalid")
    public static class EnvVar {
        @Required
        @Size(min = 1, max = SpecLimits.MAX_ENV_NAME_LENGTH)
        @Pattern(ObjectNameRules.ENV_NAME)
        @JsonPropertyDescription("Variable name: letters, digits, '_', '-' and '.', not starting with a digit.")
        public String name;

        @Size(max = SpecLimits.MAX_ENV_VALUE_LENGTH)
        @JsonPropertyDescription("Value.")
        public String value;

        @JsonPropertyDescription("Where the value comes from: exactly one of configMapKeyRef, secretKeyRef, fieldRef,"
                + " resourceFieldRef.")
        public EnvVarSource valueFrom;
    }

    /** The source of an environment variable's value. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @ValidationRule(
            value = "[has(self.configMapKeyRef), has(self.secretKeyRef), has(self.fieldRef),"
                    + " has(self.resourceFieldRef)].filter(x, x).size() == 1",
            message = "spec.trainer.env[*].valueFrom names exactly one of configMapKeyRef, secretKeyRef, fieldRef,"
                    + " resourceFieldRef",
            reason = "FieldValueInvalid")
    public static class EnvVarSource {
        @JsonPropertyDescription("A key of a ConfigMap in the job's namespace.")
        public KeySelector configMapKeyRef;

        @JsonPropertyDescription("A key of a Secret in the job's namespace.")
        public KeySelector secretKeyRef;

        @JsonPropertyDescription("A field of the pod (downward API).")
        public FieldSelector fieldRef;

        @JsonPropertyDescription("A resource of the trainer container.")
        public ResourceFieldSelector resourceFieldRef;
    }

    /** A key of a ConfigMap or Secret. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class KeySelector {
        @Required
        @Size(max = ObjectNameRules.MAX_DNS_SUBDOMAIN_LENGTH)
        @Pattern(ObjectNameRules.DNS1123_SUBDOMAIN)
        @JsonPropertyDescription("Name of the ConfigMap or Secret.")
        public String name;

        @Required
        @Size(max = ObjectNameRules.MAX_DNS_SUBDOMAIN_LENGTH)
        @Pattern(ObjectNameRules.CONFIG_MAP_KEY)
        @JsonPropertyDescription("The key to read.")
        public String key;

        @JsonPropertyDescription("Start the pod even when the key is missing.")
        public Boolean optional;
    }

    /** A field of the pod. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class FieldSelector {
        @Size(max = 16)
        @Pattern("^(v1)?$")
        @JsonPropertyDescription("v1 (the default).")
        public String apiVersion;

        @Required
        @Size(max = 512)
        @Pattern(WorkloadSyntax.ENV_FIELD_PATH)
        @JsonPropertyDescription("metadata.name, metadata.namespace, metadata.uid, metadata.labels['<key>'],"
                + " metadata.annotations['<key>'], spec.nodeName, spec.serviceAccountName, status.hostIP(s),"
                + " status.podIP(s).")
        public String fieldPath;
    }

    /** A resource of the trainer container. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class ResourceFieldSelector {
        @Size(max = ObjectNameRules.MAX_DNS_LABEL_LENGTH)
        @Pattern("^(" + WorkloadSyntax.TRAINER_CONTAINER + ")?$")
        @JsonPropertyDescription("trainer (the pod's only container), or empty.")
        public String containerName;

        @Required
        @Size(max = 256)
        @Pattern(WorkloadSyntax.ENV_RESOURCE)
        @JsonPropertyDescription(
                "limits.cpu, limits.memory, limits.ephemeral-storage, requests.*, or" + " limits.hugepages-<size>.")
        public String resource;

        @JsonPropertyDescription("Unit of the value: 1 or 1m for CPU; 1, 1k, 1Ki, 1M, 1Mi, ... for bytes.")
        public Quantity divisor;
    }

    /** A toleration of every pod of the job. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @ValidationRule(
            value = "!has(self.operator) || self.operator != 'Exists' || !has(self.value) || self.value == ''",
            message = "spec.placement.tolerations: a toleration with operator Exists has no value",
            reason = "FieldValueInvalid")
    @ValidationRule(
            value = "(has(self.key) && self.key != '') || (has(self.operator) && self.operator == 'Exists')",
            message = "spec.placement.tolerations: a toleration without a key must have operator Exists (it"
                    + " tolerates every taint)",
            reason = "FieldValueInvalid")
    @ValidationRule(
            value = "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
            message = "spec.placement.tolerations: tolerationSeconds only applies to effect NoExecute",
            reason = "FieldValueInvalid")
    public static class Toleration {
        @Size(max = ObjectNameRules.MAX_QUALIFIED_NAME_LENGTH)
        @Pattern("^(" + ObjectNameRules.QUALIFIED_NAME_BODY + ")?$")
        @JsonPropertyDescription("Taint key (a label key); empty with operator Exists tolerates every taint.")
        public String key;

        @JsonPropertyDescription("Exists or Equal (the default).")
        public TolerationOperator operator;

        @Size(max = ObjectNameRules.MAX_LABEL_VALUE_LENGTH)
        @Pattern(ObjectNameRules.LABEL_VALUE)
        @JsonPropertyDescription("Taint value (operator Equal).")
        public String value;

        @JsonPropertyDescription("NoSchedule, PreferNoSchedule or NoExecute; empty for every effect.")
        public TaintEffect effect;

        @LimitReason("at most a year")
        @Min(0)
        @Max(SpecLimits.MAX_TOLERATION_SECONDS)
        @JsonPropertyDescription("With effect NoExecute: how long the pod stays on a node after the taint appears.")
        public Long tolerationSeconds;
    }

    /** An extra volume of every pod: exactly one of the supported sources. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @ValidationRule(
            value = "[has(self.configMap), has(self.secret), has(self.persistentVolumeClaim), has(self.emptyDir)]"
                    + ".filter(x, x).size() == 1",
            message = "spec.pod.volumes: a volume names exactly one source: configMap, secret, persistentVolumeClaim"
                    + " or emptyDir (other sources are not supported)",
            reason = "FieldValueInvalid")
    @ValidationRule(
            value = "!(self.name in " + WorkloadSyntax.OPERATOR_VOLUMES_CEL + ")",
            message = "spec.pod.volumes: plan, dshm, checkpoints, model and data are the operator's own volume names;"
                    + " rename the volume (and the volumeMounts that use it)",
            reason = "FieldValueForbidden")
    public static class Volume {
        @Required
        @Size(min = 1, max = ObjectNameRules.MAX_DNS_LABEL_LENGTH)
        @Pattern(ObjectNameRules.DNS1123_LABEL)
        @JsonPropertyDescription("Volume name (a DNS-1123 label), used by spec.trainer.volumeMounts[*].name.")
        public String name;

        @JsonPropertyDescription("A ConfigMap of the job's namespace, one file per key.")
        public ConfigMapVolume configMap;

        @JsonPropertyDescription("A Secret of the job's namespace, one file per key.")
        public SecretVolume secret;

        @JsonPropertyDescription("A PersistentVolumeClaim of the job's namespace.")
        public ClaimVolume persistentVolumeClaim;

        @JsonPropertyDescription("A scratch directory that lives as long as the pod.")
        public EmptyDirVolume emptyDir;
    }

    /** A ConfigMap volume. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class ConfigMapVolume {
        @Required
        @Size(max = ObjectNameRules.MAX_DNS_SUBDOMAIN_LENGTH)
        @Pattern(ObjectNameRules.DNS1123_SUBDOMAIN)
        @JsonPropertyDescription("Name of the ConfigMap.")
        public String name;

        @JsonPropertyDescription("Start the pod even when the ConfigMap is missing.")
        public Boolean optional;
    }

    /** A Secret volume. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class SecretVolume {
        @Required
        @Size(max = ObjectNameRules.MAX_DNS_SUBDOMAIN_LENGTH)
        @Pattern(ObjectNameRules.DNS1123_SUBDOMAIN)
        @JsonPropertyDescription("Name of the Secret.")
        public String secretName;

        @JsonPropertyDescription("Start the pod even when the Secret is missing.")
        public Boolean optional;
    }

    /** A PersistentVolumeClaim volume. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class ClaimVolume {
        @Required
        @Size(max = ObjectNameRules.MAX_DNS_SUBDOMAIN_LENGTH)
        @Pattern(ObjectNameRules.DNS1123_SUBDOMAIN)
        @JsonPropertyDescription("Name of the claim.")
        public String claimName;

        @JsonPropertyDescription("Mount the claim read-only.")
        public Boolean readOnly;
    }

    /** An emptyDir volume. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class EmptyDirVolume {
        @Size(max = 16)
        @Pattern("^(Memory)?$")
        @JsonPropertyDescription("Empty (the node's disk) or Memory (tmpfs, counted against the memory limit).")
        public String medium;

        @JsonPropertyDescription("Most the directory may hold, e.g. 100Gi.")
        public Quantity sizeLimit;
    }

    /** An extra mount of the trainer container. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @ValidationRule(
            value = "!(self.mountPath in " + WorkloadSyntax.IMAGE_DIRECTORIES_CEL + ")",
            message = "spec.trainer.volumeMounts: a mountPath may not hide one of the image's top-level directories"
                    + " (/, /bin, /etc, /usr, /tmp, ...); mount below a directory of its own, e.g. /mnt/<name>",
            reason = "FieldValueForbidden")
    @ValidationRule(
            value = WorkloadSyntax.OPERATOR_MOUNTS_CEL + ".all(m, self.mountPath != m && !self.mountPath.startsWith(m"
                    + " + '/') && !m.startsWith(self.mountPath + '/'))",
            message = "spec.trainer.volumeMounts: a mountPath may not be, contain or lie inside the operator's mounts"
                    + " /etc/moe, /dev/shm, /checkpoints and /data; mount elsewhere, e.g. /mnt/<name>",
            reason = "FieldValueForbidden")
    public static class VolumeMount {
        @Required
        @Size(min = 1, max = ObjectNameRules.MAX_DNS_LABEL_LENGTH)
        @Pattern(ObjectNameRules.DNS1123_LABEL)
        @JsonPropertyDescription("Name of a volume of spec.pod.volumes.")
        public String name;

        @Required
        @Size(min = 1, max = SpecLimits.MAX_PATH_LENGTH)
        @Pattern(WorkloadSyntax.ABSOLUTE_PATH)
        @JsonPropertyDescription("Where the volume appears in the trainer container (an absolute path).")
        public String mountPath;

        @Size(max = SpecLimits.MAX_PATH_LENGTH)
        @Pattern(WorkloadSyntax.SUB_PATH)
        @JsonPropertyDescription("A directory inside the volume to mount instead of its root (relative, no '..').")
        public String subPath;

        @JsonPropertyDescription("Mount read-only.")
        public Boolean readOnly;
    }

    /** A Secret holding registry credentials. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class LocalObjectReference {
        @Required
        @Size(min = 1, max = ObjectNameRules.MAX_DNS_SUBDOMAIN_LENGTH)
        @Pattern(ObjectNameRules.DNS1123_SUBDOMAIN)
        @JsonPropertyDescription("Name of a Secret of type kubernetes.io/dockerconfigjson in the job's namespace.")
        public String name;
    }

    /** The seccomp profile of a pod or container. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @ValidationRule(
            value = "self.type == 'Localhost' ? has(self.localhostProfile) : !has(self.localhostProfile)",
            message = "securityContext.seccompProfile: localhostProfile is set exactly when type is Localhost",
            reason = "FieldValueInvalid")
    public static class SeccompProfile {
        @Required
        @Size(max = 16)
        @Pattern("^(RuntimeDefault|Unconfined|Localhost)$")
        @JsonPropertyDescription("RuntimeDefault, Unconfined or Localhost.")
        public String type;

        @Size(max = SpecLimits.MAX_PATH_LENGTH)
        @JsonPropertyDescription("With type Localhost: the profile's path below the kubelet's seccomp directory.")
        public String localhostProfile;
    }

    /** The security context of every pod (spec.pod.securityContext). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class PodSecurityContext {
        @LimitReason("Linux user ids are 32-bit")
        @Min(0)
        @Max(SpecLimits.MAX_LINUX_ID)
        @JsonPropertyDescription("User id of the containers' processes.")
        public Long runAsUser;

        @LimitReason("Linux group ids are 32-bit")
        @Min(0)
        @Max(SpecLimits.MAX_LINUX_ID)
        @JsonPropertyDescription("Primary group id of the containers' processes.")
        public Long runAsGroup;

        @JsonPropertyDescription("Refuse to start a container whose user is root.")
        public Boolean runAsNonRoot;

        @LimitReason("Linux group ids are 32-bit")
        @Min(0)
        @Max(SpecLimits.MAX_LINUX_ID)
        @JsonPropertyDescription("Group that owns the pod's volumes (and is added to the processes' groups).")
        public Long fsGroup;

        @LimitReason("Linux group ids are 32-bit")
        @Size(max = SpecLimits.MAX_CAPABILITIES)
        @JsonPropertyDescription("Further group ids of the containers' processes.")
        public List<@Min(0) @Max(SpecLimits.MAX_LINUX_ID) Long> supplementalGroups;

        @JsonPropertyDescription("The seccomp profile of the pod's containers.")
        public SeccompProfile seccompProfile;
    }

    /** The security context of the trainer container (spec.trainer.securityContext). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @ValidationRule(
            value = "!(has(self.privileged) && self.privileged && has(self.allowPrivilegeEscalation)"
                    + " && !self.allowPrivilegeEscalation)",
            message = "spec.trainer.securityContext: a privileged container always allows privilege escalation;"
                    + " drop allowPrivilegeEscalation=false or privileged=true",
            reason = "FieldValueInvalid")
    public static class SecurityContext {
        @LimitReason("Linux user ids are 32-bit")
        @Min(0)
        @Max(SpecLimits.MAX_LINUX_ID)
        @JsonPropertyDescription("User id of the trainer's processes (overrides the pod's).")
        public Long runAsUser;

        @LimitReason("Linux group ids are 32-bit")
        @Min(0)
        @Max(SpecLimits.MAX_LINUX_ID)
        @JsonPropertyDescription("Primary group id of the trainer's processes (overrides the pod's).")
        public Long runAsGroup;

        @JsonPropertyDescription("Refuse to start the container when its user is root.")
        public Boolean runAsNonRoot;

        @JsonPropertyDescription("Whether a process may gain more privileges than its parent (setuid).")
        public Boolean allowPrivilegeEscalation;

        @JsonPropertyDescription("Run the container privileged (all devices of the host).")
        public Boolean privileged;

        @JsonPropertyDescription("Mount the image's filesystem read-only.")
        public Boolean readOnlyRootFilesystem;

        @JsonPropertyDescription("Linux capabilities to add and drop (e.g. add IPC_LOCK for RDMA).")
        public Capabilities capabilities;

        @JsonPropertyDescription("The seccomp profile of the trainer (overrides the pod's).")
        public SeccompProfile seccompProfile;
    }

    /** Linux capabilities. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class Capabilities {
        @Size(max = SpecLimits.MAX_CAPABILITIES)
        @JsonPropertyDescription("Capabilities to add, e.g. IPC_LOCK, SYS_NICE.")
        public List<@Size(max = 64) @Pattern("^[A-Z_]+$") String> add;

        @Size(max = SpecLimits.MAX_CAPABILITIES)
        @JsonPropertyDescription("Capabilities to drop, e.g. ALL.")
        public List<@Size(max = 64) @Pattern("^[A-Z_]+$") String> drop;
    }

    /** Toleration operators (Kubernetes' Lt/Gt are feature-gated and not accepted). */
    public enum TolerationOperator {
        Exists,
        Equal
    }

    /** Taint effects. */
    public enum TaintEffect {
        NoSchedule,
        PreferNoSchedule,
        NoExecute
    }
}
