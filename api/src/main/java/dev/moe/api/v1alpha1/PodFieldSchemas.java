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

/**
 * The CRD schema of the Kubernetes types a job passes into its pods ({@code spec.trainer.env},
 * {@code spec.placement.tolerations}): the same fields as Fabric8's EnvVar and Toleration, with the bounds and
 * rules the API server applies to a pod, so {@code kubectl apply} refuses a job whose pods it would refuse.
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
