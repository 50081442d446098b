package dev.moe.operator;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.moe.api.v1alpha1.MoETrainingJobStatus;
import dev.moe.api.v1alpha1.SpecLimits;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The committed CRD bounds everything (issue 8): every integer has a minimum and a maximum, every string a
 * maxLength (or an enum), every list maxItems, every map maxProperties; and the spec's integer bounds are exactly
 * {@link SpecLimits#RANGES}, the table the plan engine checks too. The Java types hold every admitted value:
 * Integer fields are bounded inside an int (Long fields need no bound: the API server refuses integers beyond 64
 * bits).
 */
class CrdLimitsTest {

    /** Names of the Long fields of the status classes (the operator writes them; the API server caps them at 64 bits). */
    static final java.util.Set<String> STATUS_LONGS = new java.util.HashSet<>();

    static {
        List<Class<?>> classes = new ArrayList<>(List.of(MoETrainingJobStatus.class));
        classes.addAll(List.of(MoETrainingJobStatus.class.getClasses()));
        for (Class<?> c : classes) {
            for (Field f : c.getFields()) {
                if (f.getType() == Long.class) {
                    STATUS_LONGS.add(f.getName());
                }
            }
        }
    }

    static JsonNode rootSchema() throws Exception {
        JsonNode crd = new ObjectMapper(new YAMLFactory())
                .readTree(CrdDriftIT.ROOT
                        .resolve("crds/moetrainingjobs.training.moe.dev-v1.yml")
                        .toFile());
        return crd.at("/spec/versions/0/schema/openAPIV3Schema");
    }

    /** path (below the root, lists as [*], map values as {*}) → schema, for every node of the schema. */
    static void collect(JsonNode schema, String path, Map<String, JsonNode> out) {
        out.put(path, schema);
        JsonNode props = schema.get("properties");
        if (props != null) {
            Iterator<Map.Entry<String, JsonNode>> it = props.fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                collect(e.getValue(), path.isEmpty() ? e.getKey() : path + "." + e.getKey(), out);
            }
        }
        if (schema.has("items")) {
            collect(schema.get("items"), path + "[*]", out);
        }
        if (schema.path("additionalProperties").isObject()) {
            collect(schema.get("additionalProperties"), path + "{*}", out);
        }
    }

    static Map<String, JsonNode> schemas() throws Exception {
        Map<String, JsonNode> all = new LinkedHashMap<>();
        collect(rootSchema(), "", all);
        return all;
    }

    @Test
    void every_integer_string_list_and_map_is_bounded() throws Exception {
        List<String> unbounded = new ArrayList<>();
        schemas().forEach((path, s) -> {
            String type = s.path("type").asText("");
            boolean spec = path.startsWith("spec.");
            if (s.path("x-kubernetes-int-or-string").asBoolean(false)) {
                return; // a Quantity (resourceFieldRef.divisor): the API server parses and bounds it
            }
            switch (type) {
                case "integer":
                    if (!spec && STATUS_LONGS.contains(path.substring(path.lastIndexOf('.') + 1))) {
                        break; // a Long of the status: 64 bits is the API server's own limit
                    }
                    if (!s.has("minimum") || !s.has("maximum")) {
                        unbounded.add(path + " (integer without minimum/maximum)");
                    } else if (!path.equals("spec.training.seed")
                            && s.get("maximum").asDouble() > Integer.MAX_VALUE) {
                        unbounded.add(path + " (maximum beyond a Java int)");
                    }
                    break;
                case "string":
                    if (spec && !s.has("maxLength") && !s.has("enum")) {
                        unbounded.add(path + " (string without maxLength)");
                    }
                    break;
                case "array":
                    if (spec && !s.has("maxItems")) {
                        unbounded.add(path + " (list without maxItems)");
                    }
                    break;
                case "object":
                    boolean map = s.path("additionalProperties").isObject()
                            || s.path("x-kubernetes-preserve-unknown-fields").asBoolean(false);
                    if (spec && map && !s.has("maxProperties")) {
                        unbounded.add(path + " (map without maxProperties)");
                    }
                    break;
                default:
            }
        });
        assertThat(unbounded).as("unbounded fields of the CRD").isEmpty();
    }

    @Test
    void the_spec_integer_bounds_are_the_plan_engines_table() throws Exception {
        Map<String, JsonNode> all = schemas();
        SpecLimits.RANGES.forEach((path, range) -> {
            if (path.startsWith("model.config.")) {
                return; // a free map in the CRD (both spellings of each key); the engine bounds its values
            }
            JsonNode s = all.get("spec." + path);
            assertThat(s).as("spec." + path + " in the CRD").isNotNull();
            assertThat(s.get("minimum").asLong()).as("minimum of spec." + path).isEqualTo(range.min());
            assertThat(s.get("maximum").decimalValue().longValueExact())
                    .as("maximum of spec." + path)
                    .isEqualTo(range.max());
        });
        List<String> integers = new ArrayList<>();
        all.forEach((path, s) -> {
            if (path.startsWith("spec.") && s.path("type").asText().equals("integer")) {
                integers.add(path.substring("spec.".length()));
            }
        });
        assertThat(SpecLimits.RANGES.keySet())
                .as("every integer of the spec is in SpecLimits.RANGES")
                .containsAll(integers);
    }
}
