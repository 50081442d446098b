package dev.moe.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.SchemaFrom;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.LocalObjectReference;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.Volume;
import java.util.List;
import java.util.Map;

/**
 * Additions to every pod of the gang (spec.pod): what clusters need that the operator cannot derive. The operator's
 * own labels, annotations, volumes and mounts always win: keys under {@link WorkloadSyntax#RESERVED_METADATA_PREFIXES}
 * and the operator's volume names are refused, not overridden.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public class PodOverridesSpec {
    @Size(max = SpecLimits.MAX_POD_METADATA_ENTRIES)
    @ValidationRule(
            value = "self.all(k, k.size() <= " + ObjectNameRules.MAX_QUALIFIED_NAME_LENGTH + " && k.matches(r'"
                    + ObjectNameRules.QUALIFIED_NAME + "'))",
            message = "spec.pod.labels keys must be label keys (an optional DNS subdomain prefix and '/', then at most"
                    + " 63 letters, digits, '-', '_' or '.')",
            reason = "FieldValueInvalid")
    @ValidationRule(
            value = "self.all(k, !(k in " + WorkloadSyntax.RESERVED_METADATA_KEYS_CEL + ") && !"
                    + WorkloadSyntax.RESERVED_METADATA_PREFIXES_CEL + ".exists(p, k.startsWith(p)))",
            message = "spec.pod.labels: keys under training.moe.dev/ and kueue.x-k8s.io/, app.kubernetes.io/managed-by"
                    + " and app.kubernetes.io/component are the operator's (job, rank, attempt, pod group); use a key"
                    + " of your own",
            reason = "FieldValueForbidden")
    @JsonPropertyDescription("Extra labels of every pod. The operator's keys (training.moe.dev/*, kueue.x-k8s.io/*,"
            + " app.kubernetes.io/managed-by, app.kubernetes.io/component) are refused.")
    public Map<String, @Size(max = ObjectNameRules.MAX_LABEL_VALUE_LENGTH) @Pattern(ObjectNameRules.LABEL_VALUE) String>
            labels;

    @Size(max = SpecLimits.MAX_POD_METADATA_ENTRIES)
    @ValidationRule(
            value = "self.all(k, k.size() <= " + ObjectNameRules.MAX_QUALIFIED_NAME_LENGTH + " && k.matches(r'"
                    + ObjectNameRules.QUALIFIED_NAME + "'))",
            message = "spec.pod.annotations keys must be qualified names (an optional DNS subdomain prefix and '/',"
                    + " then at most 63 letters, digits, '-', '_' or '.')",
            reason = "FieldValueInvalid")
    @ValidationRule(
            value = "self.all(k, !(k in " + WorkloadSyntax.RESERVED_METADATA_KEYS_CEL + ") && !"
                    + WorkloadSyntax.RESERVED_METADATA_PREFIXES_CEL + ".exists(p, k.startsWith(p)))",
            message = "spec.pod.annotations: keys under training.moe.dev/ and kueue.x-k8s.io/ are the operator's"
                    + " (progress, Kueue pod group and topology); use a key of your own",
            reason = "FieldValueForbidden")
    @JsonPropertyDescription("Extra annotations of every pod (values at most " + SpecLimits.MAX_ANNOTATION_VALUE_LENGTH
            + " characters). The operator's keys (training.moe.dev/*, kueue.x-k8s.io/*) are refused.")
    public Map<String, @Size(max = SpecLimits.MAX_ANNOTATION_VALUE_LENGTH) String> annotations;

    @Size(max = SpecLimits.MAX_IMAGE_PULL_SECRETS)
    @SchemaFrom(type = PodFieldSchemas.LocalObjectReference[].class)
    @JsonPropertyDescription("Secrets with registry credentials for the trainer image.")
    public List<LocalObjectReference> imagePullSecrets;

    @SchemaFrom(type = PodFieldSchemas.PodSecurityContext.class)
    @JsonPropertyDescription("Security context of every pod (user, groups, fsGroup, seccomp).")
    public PodSecurityContext securityContext;

    @Size(max = SpecLimits.MAX_EXTRA_VOLUMES)
    @SchemaFrom(type = PodFieldSchemas.Volume[].class)
    @ValidationRule(
            value = "self.all(v, self.exists_one(w, w.name == v.name))",
            message = "spec.pod.volumes: two volumes have the same name; give each its own",
            reason = "FieldValueInvalid")
    @JsonPropertyDescription("Extra volumes of every pod (configMap, secret, persistentVolumeClaim or emptyDir),"
            + " mounted by spec.trainer.volumeMounts. Not named plan, dshm, checkpoints, model or data (the"
            + " operator's).")
    public List<Volume> volumes;
}
