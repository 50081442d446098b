package dev.moe.plan;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moe.api.v1alpha1.MoETrainingJobSpec;
import dev.moe.api.v1alpha1.SpecLimits;
import dev.moe.api.v1alpha1.TolerantJobReading.Problem;
import dev.moe.api.v1alpha1.TolerantJobReading.UnreadableSpec;
import dev.moe.api.v1alpha1.TolerantJobReading;
import dev.moe.api.v1alpha1.TrainingSpec;
import io.fabric8.kubernetes.api.model.Toleration;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Every field the plan reads is there and usable, before any rule of the plan runs:
 * <ul>
 *   <li>a value that does not fit its Java type (what {@link TolerantJobReading} could not read): one error, in the
 *       words the rules use for that kind of value — FieldType, PositiveValue or ValueTooLarge (a whole number out
 *       of its range, 2^63 included), DatasetInvalid (a dataset type or dtype that does not exist), SpecMissing (a
 *       spec that is not an object), SpecUnreadable (anything else);</li>
 *   <li>every integer with a {@link SpecLimits#RANGES} range lies inside it (FieldType, PositiveValue,
 *       ValueTooLarge; SpecLimitsTest checks that each range is applied);</li>
 *   <li>required fields are set (FieldRequired) and numbers are finite (FieldType).</li>
 * </ul>
 * A spec read by {@link TolerantJobReading} or stored by the API server holds its defaults; a null where the types
 * give a default comes only from Java code that cleared it, and is reported as FieldRequired rather than read.
 */
final class FieldRules {
    private FieldRules() {
    }

    /** The one error of a spec that does not fit the Java types. */
    static PlanError unreadable(Problem p) {
        String field = p.field();
        JsonNode value = p.value();
        Class<?> type = p.expected();
        if (field.equals("spec") && !value.isObject()) {
            return specMissing(value.toString());
        }
        SpecLimits.Range range = SpecLimits.range(rangePath(field));
        if (range != null) {
            PlanError outOfRange = RangeRules.check(field, value, range);
            if (outOfRange != null) {
                return outOfRange;
            }
        }
        String shown = value.isTextual() ? value.textValue() : value.toString();
        if (type == TrainingSpec.DatasetType.class) {
            return new PlanError("DatasetInvalid", field, shown, "is not a dataset type", "use " + names(type));
        }
        if (type == TrainingSpec.TokenDtype.class) {
            return new PlanError("DatasetInvalid", field, shown, "is not a token type", "use " + names(type));
        }
        if (type != null && type.isEnum()) {
            return new PlanError("FieldType", field, shown, "is not one of " + names(type), "use " + names(type));
        }
        if (type == Integer.class || type == Long.class) {
            return new PlanError("FieldType", field, value.toString(), "is not an integer",
                    "write a whole number without quotes");
        }
        if (type == Double.class) {
            return new PlanError("FieldType", field, value.toString(), "is not a number",
                    "write a number without quotes, e.g. 3e-4");
        }
        if (type == Boolean.class) {
            return new PlanError("FieldType", field, value.toString(), "is not a boolean",
                    "write true or false without quotes");
        }
        if (type == String.class) {
            return new PlanError("FieldType", field, value.toString(), "is not a string", "write a string");
        }
        if (type != null && Collection.class.isAssignableFrom(type)) {
            return new PlanError("FieldType", field, value.toString(), "is not a list", "write a list");
        }
        if (type != null && !value.isObject() && (Map.class.isAssignableFrom(type) || isObjectType(type))) {
            return new PlanError("FieldType", field, value.toString(), "is not an object",
                    "write an object (a map of fields)");
        }
        return new PlanError("SpecUnreadable", field, value.isMissingNode() ? null : value.toString(),
                "cannot be read (" + p.reason() + ")", "write a value of the field's type (kubectl explain moejob.spec)");
    }

    static PlanError specMissing(String value) {
        return new PlanError("SpecMissing", "spec", value, "is missing or not an object",
                "write spec.model, spec.parallelism and spec.resources");
    }

    /** {@code spec.a.b[3].c} → {@code a.b[*].c}, the key of {@link SpecLimits#RANGES}. */
    private static String rangePath(String field) {
        return field.replaceFirst("^spec\\.", "").replaceAll("\\[\\d+]", "[*]");
    }

    private static String names(Class<?> enumType) {
        return Arrays.stream(enumType.getEnumConstants()).map(Object::toString).collect(Collectors.joining(" or "));
    }

    /** A type read from a JSON object: the spec's own types and the Kubernetes types inside them. */
    private static boolean isObjectType(Class<?> type) {
        String pkg = type.getPackageName();
        return pkg.equals(MoETrainingJobSpec.class.getPackageName()) || pkg.startsWith("io.fabric8.kubernetes.api.model");
    }

    /**
     * Checks a spec; problems go to {@code errors}, and the plan must not be computed if any were added. Of an
     * {@link UnreadableSpec}, the fields that were read: a field its problems set aside is not also "required".
     */
    static void check(MoETrainingJobSpec spec, List<PlanError> errors) {
        List<String> setAside = spec instanceof UnreadableSpec u
                ? u.problems.stream().map(p -> p.field().replaceFirst("\\[.*", "")).toList() : List.of();
        Fields f = new Fields(errors, setAside);
        var p = spec.parallelism;
        if (f.present("parallelism", p)) {
            f.integer("parallelism.tensor", p.tensor, true);
            f.integer("parallelism.expert", p.expert, true);
            f.integer("parallelism.context", p.context, true);
            f.integer("parallelism.data", p.data, false);
        }
        var r = spec.resources;
        if (r == null) {
            f.required("resources.nodes");
        } else {
            f.integer("resources.nodes", r.nodes, true);
            f.integer("resources.gpusPerNode", r.gpusPerNode, true);
            f.integer("resources.gpuMemoryGiB", r.gpuMemoryGiB, true);
        }
        var t = spec.training;
        if (f.present("training", t)) {
            f.integer("training.seqLength", t.seqLength, true);
            f.integer("training.microBatchSize", t.microBatchSize, true);
            f.integer("training.globalBatchSize", t.globalBatchSize, false);
            f.integer("training.steps", t.steps, true);
            f.integer("training.warmupSteps", t.warmupSteps, true);
            f.integer("training.seed", t.seed, true);
            if (t.checkpoint != null) {
                f.integer("training.checkpoint.everySteps", t.checkpoint.everySteps, true);
            }
        }
        var rp = spec.restartPolicy;
        if (f.present("restartPolicy", rp)) {
            f.integer("restartPolicy.maxRestarts", rp.maxRestarts, true);
            f.integer("restartPolicy.backoffSeconds", rp.backoffSeconds, true);
            f.integer("restartPolicy.maxBackoffSeconds", rp.maxBackoffSeconds, true);
            f.integer("restartPolicy.gangSchedulingTimeoutSeconds", rp.gangSchedulingTimeoutSeconds, true);
            if (rp.nonRetryableExitCodes != null) {
                for (int i = 0; i < rp.nonRetryableExitCodes.size(); i++) {
                    f.item("restartPolicy.nonRetryableExitCodes", i, rp.nonRetryableExitCodes.get(i));
                }
            }
        }
        if (spec.placement != null && spec.placement.tolerations != null) {
            List<Toleration> tolerations = spec.placement.tolerations;
            for (int i = 0; i < tolerations.size(); i++) {
                if (tolerations.get(i) != null) {
                    f.integer("placement.tolerations[*].tolerationSeconds", "placement.tolerations[" + i
                            + "].tolerationSeconds", tolerations.get(i).getTolerationSeconds(), false);
                }
            }
        }

        if (spec.model != null && spec.model.checkpoint != null && spec.model.checkpoint.path == null) {
            f.required("model.checkpoint.path");
        }
        if (t != null) {
            f.present("training.activationCheckpointing", t.activationCheckpointing);
            f.number("training.learningRate", t.learningRate);
            f.number("training.minLearningRate", t.minLearningRate);
            f.number("training.weightDecay", t.weightDecay);
            f.number("training.gradClip", t.gradClip);
            if (t.checkpoint != null && t.checkpoint.claimName == null) {
                f.required("training.checkpoint.claimName");
            }
            if (f.present("training.dataset", t.dataset)) {
                f.present("training.dataset.type", t.dataset.type);
                f.present("training.dataset.dtype", t.dataset.dtype);
            }
        }
    }

    /** Reports on fields by their path below spec; fields at or below {@code setAside} were reported already. */
    private record Fields(List<PlanError> errors, List<String> setAside) {
        void required(String path) {
            String field = "spec." + path;
            if (setAside.stream().noneMatch(a -> field.equals(a) || field.startsWith(a + "."))) {
                errors.add(new PlanError("FieldRequired", field, null, "is required", "set " + field));
            }
        }

        /** Whether {@code value} is set (reported as required when not). */
        boolean present(String path, Object value) {
            if (value == null) {
                required(path);
                return false;
            }
            return true;
        }

        void integer(String path, Number value, boolean required) {
            integer(path, path, value, required);
        }

        /** The integer at {@code field}, whose range is that of {@code rangePath}. */
        void integer(String rangePath, String path, Number value, boolean required) {
            if (value == null) {
                if (required) {
                    required(path);
                }
                return;
            }
            PlanError e = RangeRules.check("spec." + path, value.longValue(), SpecLimits.range(rangePath));
            if (e != null) {
                errors.add(e);
            }
        }

        /** Item {@code i} of a list of integers. */
        void item(String list, int i, Number value) {
            String path = list + "[" + i + "]";
            if (value == null) {
                errors.add(new PlanError("FieldType", "spec." + path, "null", "is not an integer",
                        "write a whole number without quotes"));
            } else {
                integer(list + "[*]", path, value, true);
            }
        }

        void number(String path, Double value) {
            if (present(path, value) && !Double.isFinite(value)) {
                errors.add(new PlanError("FieldType", "spec." + path, String.valueOf(value), "is not a finite number",
                        "write a finite number, e.g. 3e-4"));
            }
        }
    }
}
