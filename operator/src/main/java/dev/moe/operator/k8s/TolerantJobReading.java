package dev.moe.operator.k8s;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
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
import java.util.function.BiFunction;
import java.util.stream.Collectors;

/**
 * Reads every MoETrainingJob, even one whose spec or status does not fit the operator's Java types.
 *
 * <p>The CRD bounds every field so that a new object always fits. An object stored before those bounds existed
 * (an older CRD), or by a newer CRD whose types changed, would otherwise fail to deserialise — and one such
 * object in a list stops the job informer, so the operator would silently ignore every job in the cluster and
 * crash-loop on restart. Here the spec or status that cannot be read becomes an {@link UnreadableSpec} /
 * {@link UnreadableStatus} holding the stored JSON and the reason: the reconciler reports it on that job alone.
 * Writing one back (JOSDK clones resources through JSON) writes the stored JSON unchanged, so a clone is
 * unreadable in the same way.
 */
@Singleton
public class TolerantJobReading implements KubernetesClientObjectMapperCustomizer {

    /** A spec that could not be read into {@link MoETrainingJobSpec}: every field is null. */
    public static final class UnreadableSpec extends MoETrainingJobSpec {
        /** The spec as stored. */
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

    /** Reads the subtree; when the bean deserializer fails, keeps the JSON and the reason instead. */
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
            JsonNode tree = ctxt.readTree(p);
            try (JsonParser again = tree.traverse(p.getCodec())) {
                again.nextToken();
                return _delegatee.deserialize(again, ctxt);
            } catch (JsonProcessingException | IllegalArgumentException e) {
                return unreadable.apply(tree, describe(root, e));
            }
        }
    }

    /** The JSON path of the failing field below {@code root}, and the first line of Jackson's reason. */
    static Problem describe(String root, Exception e) {
        String path = root;
        String reason = e.getMessage();
        if (e instanceof JsonMappingException m) {
            path = root + m.getPath().stream()
                    .map(r -> r.getFieldName() != null ? "." + r.getFieldName() : "[" + r.getIndex() + "]")
                    .collect(Collectors.joining());
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
        private final java.util.function.Function<T, JsonNode> stored;

        StoredJson(Class<T> type, java.util.function.Function<T, JsonNode> stored) {
            super(type);
            this.stored = stored;
        }

        @Override
        public void serialize(T value, JsonGenerator gen, SerializerProvider provider) throws IOException {
            gen.writeTree(stored.apply(value));
        }
    }
}
