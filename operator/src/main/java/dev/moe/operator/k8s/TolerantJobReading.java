package dev.moe.operator.k8s;

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
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.BeanSerializerModifier;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import dev.moe.operator.api.v1alpha1.MoETrainingJobSpec;
import dev.moe.operator.api.v1alpha1.MoETrainingJobStatus;
import io.quarkus.kubernetes.client.KubernetesClientObjectMapperCustomizer;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
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
 * <p>JOSDK clones every resource through JSON before reconciling it, so an unreadable spec is written as
 * {@code {"$unreadable": {"field": …, "reason": …}}} and read back as the same {@link UnreadableSpec}. The
 * operator never writes a job's spec (the status subresource ignores it), and the API server prunes such a
 * key from anything a user stores, so the marker cannot be forged.
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
    static final String MARKER = "$unreadable";

    /** A spec that could not be read into {@link MoETrainingJobSpec}: every field is null. */
    public static final class UnreadableSpec extends MoETrainingJobSpec {
        /** The field that cannot be read, e.g. {@code spec.resources.nodes}, and why. */
        public final transient Problem problem;

        UnreadableSpec(Problem problem) {
            this.problem = problem;
        }
    }

    /** A status that could not be read into {@link MoETrainingJobStatus}: every field is null or empty. */
    public static final class UnreadableStatus extends MoETrainingJobStatus {
        public final transient Problem problem;

        UnreadableStatus(Problem problem) {
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

    /** The Jackson module (also for tests that build their own mapper). */
    public static SimpleModule module() {
        SimpleModule module = new SimpleModule("moe-tolerant-job-reading");
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
                    return new Marker<>(UnreadableSpec.class, s -> s.problem);
                }
                if (type == UnreadableStatus.class) {
                    return new Marker<>(UnreadableStatus.class, s -> s.problem);
                }
                return serializer;
            }
        });
        return module;
    }

    /** Reads the subtree; when it is too deep or the bean deserializer fails, keeps the reason instead. */
    private static final class Tolerant extends DelegatingDeserializer {
        private final String root;
        private final Function<Problem, Object> unreadable;

        Tolerant(JsonDeserializer<?> delegate, String root, Function<Problem, Object> unreadable) {
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
            JsonNode marker = tree.get(MARKER);
            if (marker != null && marker.isObject()) {
                return unreadable.apply(new Problem(marker.path("field").asText(root), marker.path("reason").asText()));
            }
            String tooDeep = deeperThan(tree, root, MAX_DEPTH);
            if (tooDeep != null) {
                return unreadable.apply(new Problem(tooDeep, "nested deeper than " + MAX_DEPTH + " levels"));
            }
            try (JsonParser again = tree.traverse(p.getCodec())) {
                again.nextToken();
                return _delegatee.deserialize(again, ctxt);
            } catch (JsonProcessingException | IllegalArgumentException e) {
                return unreadable.apply(describe(root, e));
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

    /** Writes {"$unreadable": {"field": …, "reason": …}}. */
    private static final class Marker<T> extends StdSerializer<T> {
        private final Function<T, Problem> problem;

        Marker(Class<T> type, Function<T, Problem> problem) {
            super(type);
            this.problem = problem;
        }

        @Override
        public void serialize(T value, JsonGenerator gen, SerializerProvider provider) throws IOException {
            Problem p = problem.apply(value);
            gen.writeStartObject();
            gen.writeObjectFieldStart(MARKER);
            gen.writeStringField("field", p.field());
            gen.writeStringField("reason", p.reason());
            gen.writeEndObject();
            gen.writeEndObject();
        }
    }
}
