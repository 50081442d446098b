package dev.moe.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.crdv2.generator.v1.SchemaCustomizer;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * A Mixture-of-Experts training job: one model, one parallel plan (TP × EP × CP × DP) over a gang of GPU pods.
 * The CRD in {@code crds/} is generated from this class and its spec/status types.
 */
@SchemaCustomizer(MoETrainingJob.Description.class)
@Group(MoETrainingJob.GROUP)
@Version(MoETrainingJob.VERSION)
@Kind("MoETrainingJob")
@Plural("moetrainingjobs")
@Singular("moetrainingjob")
@ShortNames("moejob")
@AdditionalPrinterColumn(name = "Phase", jsonPath = ".status.phase", type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
        name = "World",
        jsonPath = ".status.plan.worldSize",
        type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(name = "TP", jsonPath = ".status.plan.tensor", type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(name = "EP", jsonPath = ".status.plan.expert", type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(name = "DP", jsonPath = ".status.plan.data", type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(name = "Restarts", jsonPath = ".status.restarts", type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(name = "Step", jsonPath = ".status.progress.step", type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
        name = "Done%",
        jsonPath = ".status.progress.percentDone",
        type = AdditionalPrinterColumn.Type.NUMBER)
@AdditionalPrinterColumn(
        name = "ETA",
        jsonPath = ".status.progress.estimatedCompletionTime",
        type = AdditionalPrinterColumn.Type.STRING,
        priority = 1)
@AdditionalPrinterColumn(
        name = "Age",
        jsonPath = ".metadata.creationTimestamp",
        type = AdditionalPrinterColumn.Type.DATE)
@ValidationRule(
        value = "self.metadata.name.size() <= " + ObjectNameRules.MAX_JOB_NAME_LENGTH,
        message = "metadata.name must have at most " + ObjectNameRules.MAX_JOB_NAME_LENGTH + " characters: the operator"
                + " names pods <job>-node-<rank> (also their hostnames) and Kueue pod groups <job>-a<attempt>, which"
                + " must fit 63",
        reason = "FieldValueInvalid")
@ValidationRule(
        value = "self.metadata.name.matches(r'" + ObjectNameRules.DNS1035_LABEL + "')",
        message = "metadata.name must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter,"
                + " ending with a letter or digit): it names the job's headless Service",
        reason = "FieldValueInvalid")
public class MoETrainingJob extends CustomResource<MoETrainingJobSpec, MoETrainingJobStatus> implements Namespaced {
    /** What `kubectl explain moetrainingjob` prints first: the CRD schema's top-level description. */
    public static final String DESCRIPTION = "A Mixture-of-Experts training job (short name moejob): one model, one"
            + " parallel plan (tensor, expert, context and data degrees) over a gang of GPU pods, one pod per node."
            + " The operator's plan engine checks the plan before anything runs (its admission webhook refuses an"
            + " invalid job at apply; the reconciler reports one as phase Invalid), then runs the gang with the"
            + " torchrun environment, restarts it as a whole on failures within spec.restartPolicy, and reports"
            + " the plan, progress and restarts in status. Check a file offline with bin/moe-plan.";

    /**
     * Sets {@link #DESCRIPTION} on the root schema (the generator takes descriptions from properties only; the
     * root is no property).
     */
    public static final class Description implements SchemaCustomizer.Customizer {
        @Override
        public JSONSchemaProps apply(JSONSchemaProps props, String input, KubernetesSerialization serialization) {
            props.setDescription(DESCRIPTION);
            return props;
        }
    }

    public static final String GROUP = "training.moe.dev";
    public static final String VERSION = "v1alpha1";

    @Override
    @JsonPropertyDescription("Desired state: the model, its parallel plan (tensor, expert, context, data degrees),"
            + " the GPUs, training settings, trainer container, placement, restart policy and NCCL hints."
            + " Model-dependent rules (experts, heads, memory) are checked by the operator's plan engine and"
            + " reported in status; check a file offline with bin/moe-plan.")
    public MoETrainingJobSpec getSpec() {
        return super.getSpec();
    }

    @Override
    @JsonPropertyDescription("Observed state, written by the operator: phase, conditions, the plan it runs,"
            + " restarts, last failure and training progress.")
    public MoETrainingJobStatus getStatus() {
        return super.getStatus();
    }

    @Override
    protected MoETrainingJobStatus initStatus() {
        return new MoETrainingJobStatus();
    }
}
