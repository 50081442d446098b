package dev.moe.plan;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moe.api.v1alpha1.MoETrainingJobSpec;
import dev.moe.api.v1alpha1.SpecLimits;
import dev.moe.api.v1alpha1.TolerantJobReading;
import dev.moe.api.v1alpha1.TolerantJobReading.Problem;
import dev.moe.api.v1alpha1.TolerantJobReading.UnreadableSpec;
import dev.moe.api.v1alpha1.TrainingSpec;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
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
 *       ValueTooLarge): the table's paths are followed on the typed spec, so a new range needs no code here;</li>
 *   <li>required fields are set (FieldRequired) and every number of the spec is finite (FieldType).</li>
 * </ul>
 * A spec read by {@link TolerantJobReading} or stored by the API server holds its defaults; a null where the types
 * give a default comes only from Java code that cleared it, and is reported as FieldRequired rather than read.
 */
final class FieldRules {
    private FieldRules() {}

    /** The one error of a spec that does not fit the Java types. */
    static PlanError unreadable(Problem p) {
        String field = p.field();
        JsonNode value = p.value();
        Class<?> type = p.expected();
        if (field.equals("spec") && !value.isObject()) {
            return specMissing(value.toString());
        }
        if (value.isMissingNode()) {
            return new PlanError(
                    "SpecUnreadable",
                    field,
                    null,
                    "cannot be read (" + p.reason() + ")",
                    "write a value of the field's type (kubectl explain moejob.spec)");
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
            return new PlanError(
                    "FieldType", field, value.toString(), "is not an integer", "write a whole number without quotes");
        }
        if (type == Double.class) {
            return new PlanError(
                    "FieldType",
                    field,
                    value.toString(),
                    "is not a number",
                    "write a number without quotes, e.g. 3e-4");
        }
        if (type == Boolean.class) {
            return new PlanError(
                    "FieldType", field, value.toString(), "is not a boolean", "write true or false without quotes");
        }
        if (type == String.class) {
            return new PlanError("FieldType", field, value.toString(), "is not a string", "write a string");
        }
        if (type != null && Collection.class.isAssignableFrom(type)) {
            return new PlanError("FieldType", field, value.toString(), "is not a list", "write a list");
        }
        if (type != null && !value.isObject() && (Map.class.isAssignableFrom(type) || isObjectType(type))) {
            return new PlanError(
                    "FieldType", field, value.toString(), "is not an object", "write an object (a map of fields)");
        }
        return new PlanError(
                "SpecUnreadable",
                field,
                value.toString(),
                "cannot be read (" + p.reason() + ")",
                "write a value of the field's type (kubectl explain moejob.spec)");
    }

    static PlanError specMissing(String value) {
        return new PlanError(
                "SpecMissing",
                "spec",
                value,
                "is missing or not an object",
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
        return pkg.equals(MoETrainingJobSpec.class.getPackageName())
                || pkg.startsWith("io.fabric8.kubernetes.api.model");
    }

    /**
     * Checks a spec; problems go to {@code errors}, and the plan must not be computed if any were added. Of an
     * {@link UnreadableSpec}, the fields that were read: a field its problems set aside is not also "required".
     */
    static void check(MoETrainingJobSpec spec, List<PlanError> errors) {
        List<String> setAside = spec instanceof UnreadableSpec u
                ? u.problems.stream()
                        .map(p -> p.field().replaceFirst("\\[.*", ""))
                        .toList()
                : List.of();
        Fields f = new Fields(errors, setAside);
        SpecLimits.RANGES.forEach((path, range) -> {
            if (!path.startsWith(RangeRules.MODEL_CONFIG)) {
                f.inRange(spec, path.split("\\."), 0, "spec", range);
            }
        });
        f.walk(spec, MoETrainingJobSpec.class, "spec");
        // the fields without a default that the plan reads
        if (spec.resources == null || spec.resources.nodes == null) {
            f.required("spec.resources.nodes");
        }
        if (spec.model != null && spec.model.checkpoint != null && spec.model.checkpoint.path == null) {
            f.required("spec.model.checkpoint.path");
        }
        if (spec.training != null && spec.training.checkpoint != null && spec.training.checkpoint.claimName == null) {
            f.required("spec.training.checkpoint.claimName");
        }
    }

    /** Fresh objects of the spec's types: what each field starts with. */
    private static final ClassValue<Object> FRESH = new ClassValue<>() {
        @Override
        protected Object computeValue(Class<?> type) {
            try {
                return type.getDeclaredConstructor().newInstance();
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("a spec type without a public no-argument constructor: " + type, e);
            }
        }
    };

    /** Reports on fields by their path; fields at or below {@code setAside} were reported already. */
    private record Fields(List<PlanError> errors, List<String> setAside) {
        void required(String field) {
            if (setAside.stream().noneMatch(a -> field.equals(a) || field.startsWith(a + "."))) {
                errors.add(new PlanError("FieldRequired", field, null, "is required", "set " + field));
            }
        }

        /**
         * Every field of {@code object} (of the spec type {@code type}) that a fresh object holds a value for is
         * still set (only Java code can clear one: the reader and the API server fill defaults in), and every
         * number is finite; the same below, in the objects of the spec's own types.
         */
        void walk(Object object, Class<?> type, String path) {
            Object fresh = FRESH.get(type);
            for (Field field : type.getFields()) {
                if (Modifier.isStatic(field.getModifiers()) || Modifier.isTransient(field.getModifiers())) {
                    continue;
                }
                String child = path + "." + field.getName();
                Object value = get(field, object);
                if (value == null) {
                    if (get(field, fresh) != null) {
                        required(child);
                    }
                } else if (value instanceof Double d && !Double.isFinite(d)) {
                    errors.add(new PlanError(
                            "FieldType",
                            child,
                            String.valueOf(d),
                            "is not a finite number",
                            "write a finite number, e.g. 3e-4"));
                } else if (isSpecType(field.getType())) {
                    walk(value, field.getType(), child);
                }
            }
        }

        /** Follows {@code parts} (a {@link SpecLimits#RANGES} path; {@code name[*]} is every item) to the integers. */
        void inRange(Object node, String[] parts, int i, String field, SpecLimits.Range range) {
            boolean each = parts[i].endsWith("[*]");
            String name = each ? parts[i].substring(0, parts[i].length() - 3) : parts[i];
            Object child = child(node, name);
            String childField = field + "." + name;
            if (child == null) {
                return; // absent: fine, or reported as required
            }
            if (!each) {
                visit(child, parts, i, childField, range);
                return;
            }
            List<?> items = (List<?>) child;
            for (int k = 0; k < items.size(); k++) {
                Object item = items.get(k);
                if (item == null && i == parts.length - 1) {
                    errors.add(new PlanError(
                            "FieldType",
                            childField + "[" + k + "]",
                            "null",
                            "is not an integer",
                            "write a whole number without quotes"));
                } else if (item != null) {
                    visit(item, parts, i, childField + "[" + k + "]", range);
                }
            }
        }

        private void visit(Object value, String[] parts, int i, String field, SpecLimits.Range range) {
            if (i < parts.length - 1) {
                inRange(value, parts, i + 1, field, range);
                return;
            }
            PlanError e = RangeRules.check(field, ((Number) value).longValue(), range);
            if (e != null) {
                errors.add(e);
            }
        }
    }

    private static boolean isSpecType(Class<?> type) {
        return type.getPackage() == MoETrainingJobSpec.class.getPackage() && !type.isEnum();
    }

    private static Object get(Field field, Object object) {
        try {
            return field.get(object);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The property {@code name} of a spec object: a public field of the spec's types, a getter of Fabric8's. */
    private static Object child(Object node, String name) {
        try {
            if (isSpecType(node.getClass())) {
                return node.getClass().getField(name).get(node);
            }
            Method getter =
                    node.getClass().getMethod("get" + Character.toUpperCase(name.charAt(0)) + name.substring(1));
            return getter.invoke(node);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(
                    "SpecLimits.RANGES names " + name + ", which "
                            + node.getClass().getSimpleName() + " does not have",
                    e);
        }
    }
}
