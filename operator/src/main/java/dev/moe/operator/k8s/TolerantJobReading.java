package dev.moe.operator.k8s;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.BeanDescription;
import com.fasterxml.jackson.databind.DeserializationConfig;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationConfig;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.deser.BeanDeserializerModifier;
import com.fasterxml.jackson.databind.deser.std.DelegatingDeserializer;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ContainerNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.BeanSerializerModifier;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import dev.moe.operator.api.v1alpha1.MoETrainingJobSpec;
import dev.moe.operator.api.v1alpha1.MoETrainingJobStatus;
import io.fabric8.kubernetes.api.model.ManagedFieldsEntry;
import io.quarkus.kubernetes.client.KubernetesClientObjectMapperCustomizer;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Reads every MoETrainingJob, even one whose spec or status does not fit the operator's Java types.
 *
 * <p>The CRD bounds every field so that a new object always fits. An object stored before those bounds existed
 * (an older CRD), under a newer CRD whose types changed, or nested deeper than any parser should follow (a
 * preserve-unknown-fields map such as {@code spec.model.config} has no depth bound in a schema) would otherwise
 * fail to deserialise — and one such object in a list stops the job informer, so the operator would silently
 * ignore every job in the cluster and crash-loop on restart. Here the spec or status that cannot be read becomes
 * an {@link UnreadableSpec} / {@link UnreadableStatus} naming the field and the reason: the reconciler reports it
 * on that job alone.
 *
 * <p>JOSDK clones every resource through JSON before reconciling it, and sends the whole object (spec included,
 * which the status subresource ignores but checks against the schema) with every status patch. So an unreadable
 * spec is written back as it was stored, and its clone is unreadable in the same way; one that was too deep is
 * written with everything below {@link #MAX_DEPTH} levels replaced by a short string, so its clone is readable and
 * the plan engine names the field that holds the wrong value.
 */
@Singleton
public class TolerantJobReading implements KubernetesClientObjectMapperCustomizer {
    /** Deepest nesting below {@code spec} or {@code status} that is read into the Java types. */
    public static final int MAX_DEPTH = 64;
    /**
     * Nesting the JSON parser follows (Jackson's default is 1,000; the API server stores deeper objects): deep enough
     * that a job is parsed, then found too deep, instead of failing the whole list of jobs.
     */
    static final int PARSER_MAX_NESTING = 100_000;
    static final String CUT = "(nested too deep: removed by the operator)";

    /** A spec that could not be read into {@link MoETrainingJobSpec}: every field is null. */
    public static final class UnreadableSpec extends MoETrainingJobSpec {
        /** The spec as stored (cut at {@link #MAX_DEPTH} levels). */
        public final transient JsonNode stored;
        /** The field that cannot be read, e.g. {@code spec.resources.nodes}, and why. */
        public final transient Problem problem;

        UnreadableSpec(JsonNode stored, Problem problem) {
            this.stored = stored;
            this.problem = problem;
        }
    }

    /** A status that could not be read into {@link MoETrainingJobStatus}: every field is null or empty. */
    public static final class UnreadableStatus extends MoETrainingJobStatus {
        public final transient JsonNode stored;
        public final transient Problem problem;

        UnreadableStatus(JsonNode stored, Problem problem) {
            this.stored = stored;
            this.problem = problem;
        }
    }

    /** What could not be read: the field's path and the reason, e.g. "Numeric value (3000000000) out of range of int". */
    public record Problem(String field, String reason) {
    }

    @Override
    public void customize(ObjectMapper mapper) {
        mapper.getFactory().setStreamReadConstraints(StreamReadConstraints.builder()
                .maxNestingDepth(PARSER_MAX_NESTING).build());
        mapper.registerModule(module());
    }

    /**
     * managedFields are neither read nor written by this client: their fieldsV1 mirror every field path of an
     * object, as deep as its deepest field, and Jackson reads and writes such maps recursively (a deep job stopped the
     * watch with a StackOverflowError). The operator compares dependents on their fields, never on managedFields,
     * and server-side apply needs none on the request; skipping them also keeps the informer caches smaller.
     */
    @JsonIgnoreProperties(value = "fieldsV1", ignoreUnknown = true)
    abstract static class WithoutFieldsV1 {
    }

    /** The Jackson module (also for tests that build their own mapper). */
    public static SimpleModule module() {
        SimpleModule module = new SimpleModule("moe-tolerant-job-reading");
        module.setMixInAnnotation(ManagedFieldsEntry.class, WithoutFieldsV1.class);
        module.setDeserializerModifier(new BeanDeserializerModifier() {
            @Override
            public JsonDeserializer<?> modifyDeserializer(DeserializationConfig config, BeanDescription bean,
                    JsonDeserializer<?> deserializer) {
                Class<?> type = bean.getBeanClass();
                if (type == MoETrainingJobSpec.class) {
                    return new Tolerant(deserializer, "spec", UnreadableSpec::new);
                }
                if (type == MoETrainingJobStatus.class) {
                    return new Tolerant(deserializer, "status", UnreadableStatus::new);
                }
                return deserializer;
            }
        });
        module.setSerializerModifier(new BeanSerializerModifier() {
            @Override
            public JsonSerializer<?> modifySerializer(SerializationConfig config, BeanDescription bean,
                    JsonSerializer<?> serializer) {
                Class<?> type = bean.getBeanClass();
                if (type == UnreadableSpec.class) {
                    return new StoredJson<>(UnreadableSpec.class, s -> s.stored);
                }
                if (type == UnreadableStatus.class) {
                    return new StoredJson<>(UnreadableStatus.class, s -> s.stored);
                }
                return serializer;
            }
        });
        return module;
    }

    /** Reads the subtree; when it is too deep or the bean deserializer fails, keeps the reason instead. */
    private static final class Tolerant extends DelegatingDeserializer {
        private final String root;
        private final BiFunction<JsonNode, Problem, Object> unreadable;

        Tolerant(JsonDeserializer<?> delegate, String root, BiFunction<JsonNode, Problem, Object> unreadable) {
            super(delegate);
            this.root = root;
            this.unreadable = unreadable;
        }

        @Override
        protected JsonDeserializer<?> newDelegatingInstance(JsonDeserializer<?> newDelegatee) {
            return new Tolerant(newDelegatee, root, unreadable);
        }

        @Override
        public Object deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            JsonNode tree = ctxt.readTree(p); // iterative: no recursion however deep
            String tooDeep = deeperThan(tree, root, MAX_DEPTH);
            if (tooDeep != null) {
                return unreadable.apply(cut(tree, MAX_DEPTH),
                        new Problem(tooDeep, "nested deeper than " + MAX_DEPTH + " levels"));
            }
            try (JsonParser again = tree.traverse(p.getCodec())) {
                again.nextToken();
                return _delegatee.deserialize(again, ctxt);
            } catch (JsonProcessingException | IllegalArgumentException e) {
                return unreadable.apply(tree, describe(root, e));
            }
        }
    }

    /** The path of the first node more than {@code max} levels below {@code tree}, or null; iterative. */
    static String deeperThan(JsonNode tree, String root, int max) {
        record Frame(JsonNode node, String path, int depth) {
        }
        Deque<Frame> todo = new ArrayDeque<>();
        todo.push(new Frame(tree, root, 0));
        while (!todo.isEmpty()) {
            Frame f = todo.pop();
            if (f.depth() > max) {
                return f.path();
            }
            if (f.node().isObject()) {
                Iterator<Map.Entry<String, JsonNode>> fields = f.node().fields();
                while (fields.hasNext()) {
                    var e = fields.next();
                    String key = e.getKey().length() > 40 ? e.getKey().substring(0, 40) + "…" : e.getKey();
                    todo.push(new Frame(e.getValue(), f.depth() < 8 ? f.path() + "." + key : f.path(), f.depth() + 1));
                }
            } else if (f.node().isArray()) {
                for (int i = 0; i < f.node().size(); i++) {
                    todo.push(new Frame(f.node().get(i), f.depth() < 8 ? f.path() + "[" + i + "]" : f.path(),
                            f.depth() + 1));
                }
            }
        }
        return null;
    }

    /** A copy of {@code tree} with every node more than {@code max} levels down replaced by {@link #CUT}; iterative. */
    static JsonNode cut(JsonNode tree, int max) {
        record Frame(JsonNode from, ContainerNode<?> to, int depth) {
        }
        if (!tree.isContainerNode()) {
            return tree;
        }
        ContainerNode<?> root = tree.isObject() ? JsonNodeFactory.instance.objectNode()
                : JsonNodeFactory.instance.arrayNode();
        Deque<Frame> todo = new ArrayDeque<>();
        todo.push(new Frame(tree, root, 1));
        while (!todo.isEmpty()) {
            Frame f = todo.pop();
            Iterator<Map.Entry<String, JsonNode>> fields = f.from().isObject() ? f.from().fields() : null;
            int i = 0;
            while (fields != null ? fields.hasNext() : i < f.from().size()) {
                String key = null;
                JsonNode child;
                if (fields != null) {
                    var e = fields.next();
                    key = e.getKey();
                    child = e.getValue();
                } else {
                    child = f.from().get(i++);
                }
                JsonNode copy;
                if (!child.isContainerNode()) {
                    copy = child;
                } else if (f.depth() >= max) {
                    copy = JsonNodeFactory.instance.textNode(CUT);
                } else {
                    ContainerNode<?> c = child.isObject() ? JsonNodeFactory.instance.objectNode()
                            : JsonNodeFactory.instance.arrayNode();
                    todo.push(new Frame(child, c, f.depth() + 1));
                    copy = c;
                }
                if (f.to() instanceof ObjectNode o) {
                    o.set(key, copy);
                } else {
                    ((ArrayNode) f.to()).add(copy);
                }
            }
        }
        return root;
    }

    /** The JSON path of the failing field below {@code root}, and the first line of Jackson's reason. */
    static Problem describe(String root, Exception e) {
        String path = root;
        String reason = e.getMessage();
        if (e instanceof JsonMappingException m) {
            List<String> parts = new ArrayList<>();
            m.getPath().forEach(r -> parts.add(r.getFieldName() != null ? "." + r.getFieldName()
                    : "[" + r.getIndex() + "]"));
            path = root + parts.stream().collect(Collectors.joining());
            reason = m.getOriginalMessage();
        }
        if (reason == null) {
            reason = e.getClass().getSimpleName();
        }
        int newline = reason.indexOf('\n');
        return new Problem(path, (newline >= 0 ? reason.substring(0, newline) : reason).trim());
    }

    /** Writes the JSON that was stored. */
    private static final class StoredJson<T> extends StdSerializer<T> {
        private final Function<T, JsonNode> stored;

        StoredJson(Class<T> type, Function<T, JsonNode> stored) {
            super(type);
            this.stored = stored;
        }

        @Override
        public void serialize(T value, JsonGenerator gen, SerializerProvider provider) throws IOException {
            gen.writeTree(stored.apply(value));
        }
    }
}
