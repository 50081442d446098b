package dev.moe.operator;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.moe.plan.JobSpecConverter;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The defaults the API server applies (the committed CRD's {@code default}s, generated from @Default) are exactly
 * the defaults the plan engine's converter applies to a file checked offline.
 */
class CrdDefaultsTest {
    static final Path CRD = CrdDriftIT.ROOT.resolve("crds/moetrainingjobs.training.moe.dev-v1.yml");

    static JsonNode specSchema() throws Exception {
        JsonNode crd = new ObjectMapper(new YAMLFactory()).readTree(CRD.toFile());
        return crd.at("/spec/versions/0/schema/openAPIV3Schema/properties/spec");
    }

    static void collect(JsonNode schema, String path, Map<String, JsonNode> out) {
        if (schema.has("default")) {
            out.put(path, schema.get("default"));
        }
        JsonNode props = schema.get("properties");
        if (props != null) {
            Iterator<Map.Entry<String, JsonNode>> it = props.fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                collect(e.getValue(), path.isEmpty() ? e.getKey() : path + "." + e.getKey(), out);
            }
        }
    }

    static boolean same(JsonNode a, JsonNode b) {
        if (a.isNumber() && b.isNumber()) {
            return a.decimalValue().compareTo(b.decimalValue()) == 0;
        }
        return a.equals(b);
    }

    @Test
    void crd_defaults_equal_converter_defaults() throws Exception {
        Map<String, JsonNode> crd = new LinkedHashMap<>();
        collect(specSchema(), "", crd);
        Map<String, JsonNode> converter = JobSpecConverter.defaults();
        assertThat(crd.keySet()).as("fields with a default").containsExactlyInAnyOrderElementsOf(converter.keySet());
        crd.forEach((path, value) -> assertThat(same(value, converter.get(path)))
                .as("default of spec.%s: CRD %s, converter %s", path, value, converter.get(path)).isTrue());
        assertThat(crd).hasSizeGreaterThan(15);
    }
}
