package dev.moe.api.v1alpha1;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The defaults the API server applies (the committed CRD's {@code default}s, generated from {@code @Default}) are
 * exactly the values the Java types start with, which a spec read without an API server keeps (bin/moe-plan).
 */
class CrdDefaultsTest {
    static final Path ROOT =
            Path.of(System.getProperty("moe.repo.root", "..")).toAbsolutePath().normalize();
    static final Path CRD = ROOT.resolve("crds/moetrainingjobs.training.moe.dev-v1.yml");
    static final ObjectMapper JSON = new ObjectMapper();

    static JsonNode specSchema() throws Exception {
        JsonNode crd = new ObjectMapper(new YAMLFactory()).readTree(CRD.toFile());
        return crd.at("/spec/versions/0/schema/openAPIV3Schema/properties/spec");
    }

    static void collectCrd(JsonNode schema, String path, Map<String, JsonNode> out) {
        if (schema.has("default")) {
            out.put(path, schema.get("default"));
        }
        JsonNode props = schema.get("properties");
        if (props != null) {
            Iterator<Map.Entry<String, JsonNode>> it = props.fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                collectCrd(e.getValue(), path.isEmpty() ? e.getKey() : path + "." + e.getKey(), out);
            }
        }
    }

    /**
     * Every field that a fresh object of {@code type} (and of each spec type below it, also those the spec does not
     * create by default, such as training.checkpoint) starts with a value, as JSON.
     */
    static void collectJava(Class<?> type, String path, Map<String, JsonNode> out) throws Exception {
        Object fresh = type.getDeclaredConstructor().newInstance();
        for (Field f : type.getFields()) {
            if (Modifier.isStatic(f.getModifiers())) {
                continue;
            }
            String child = path.isEmpty() ? f.getName() : path + "." + f.getName();
            Class<?> t = f.getType();
            if (t.getPackage() == MoETrainingJobSpec.class.getPackage() && !t.isEnum()) {
                collectJava(t, child, out);
            } else if (f.get(fresh) != null) {
                out.put(child, JSON.valueToTree(f.get(fresh)));
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
    void crd_defaults_equal_the_java_defaults() throws Exception {
        Map<String, JsonNode> crd = new LinkedHashMap<>();
        collectCrd(specSchema(), "", crd);
        Map<String, JsonNode> java = new LinkedHashMap<>();
        collectJava(MoETrainingJobSpec.class, "", java);
        assertThat(crd.keySet()).as("fields with a default").containsExactlyInAnyOrderElementsOf(java.keySet());
        crd.forEach((path, value) -> assertThat(same(value, java.get(path)))
                .as("default of spec.%s: CRD %s, Java %s", path, value, java.get(path))
                .isTrue());
        assertThat(crd).hasSizeGreaterThan(15);
    }

    @Test
    void a_spec_read_from_json_without_those_fields_has_the_defaults() throws Exception {
        MoETrainingJobSpec read = TolerantJobReading.readSpec(JSON.readTree("{\"model\": {\"preset\": \"tiny-moe\"},"
                + " \"resources\": {\"nodes\": 2}, \"training\": {\"checkpoint\": {\"claimName\": \"c\"}}}"));
        Map<String, JsonNode> crd = new LinkedHashMap<>();
        collectCrd(specSchema(), "", crd);
        JsonNode tree = JSON.valueToTree(read);
        crd.forEach((path, value) -> assertThat(same(value, tree.at("/" + path.replace('.', '/'))))
                .as("spec.%s read from a file", path)
                .isTrue());
    }
}
