package dev.moe.api.v1alpha1;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.InputCoercionException;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ContainerNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import com.fasterxml.jackson.databind.type.LogicalType;
import java.io.IOException;
import java.lang.invoke.MethodType;
import java.math.BigDecimal;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Reads every MoETrainingJob spec and status, even one that does not fit the Java types: the one reader for the
 * operator's Kubernetes client ({@link #module()}) and for files checked offline ({@link #readSpec}).
 *
 * <p>The CRD bounds every field so that a new object always fits. An object stored before those bounds existed
 * (an older CRD), or by a newer CRD whose types changed, would otherwise fail to deserialise — and one such
 * object in a list stops the job informer, so the operator would silently ignore every job in the cluster and
 * crash-loop on restart. Here the spec or status that cannot be read becomes an {@link UnreadableSpec} /
 * {@link UnreadableStatus} holding the stored JSON and the {@link Problem}s (the field, its value, the type it
 * must fit): the plan engine reports them on that job alone, with the messages {@code bin/moe-plan} gives for the
 * same file. Writing one back (JOSDK clones resources through JSON) writes the stored JSON unchanged, so a clone
 * is unreadable in the same way.
 *
 * <p>The reading is strict where Jackson would guess, and reads JSON as the API server does: a string is never
 * a number or a boolean (nor a number a string), an enum is one of its names, a fraction is no integer, but an
 * integral floating value (2.0) is the integer it equals; a {@code null} field is absent (so the field keeps its
 * default), as the API server prunes it, except inside the free-form {@code spec.model.config}. Objects that came
 * through an API server are never affected: its schema already guarantees the types.
 */
public final class TolerantJobReading {
    private TolerantJobReading() {}

    /**
     * A spec that does not fit {@link MoETrainingJobSpec}: its {@link #problems}, and every other field as read
     * (when {@link #othersRead}; otherwise the fields hold their defaults).
     */
    public static final class UnreadableSpec extends MoETrainingJobSpec {
        /** The spec as stored. */
        public final transient JsonNode stored;
        /** The fields that cannot be read, e.g. {@code spec.resources.nodes}, and why; at least one. */
        public final transient List<Problem> problems;
        /** Whether the fields without a problem were read (false: the spec is no object, or has too many). */
        public final transient boolean othersRead;

        UnreadableSpec(JsonNode stored, List<Problem> problems, boolean othersRead) {
            this.stored = stored;
            this.problems = List.copyOf(problems);
            this.othersRead = othersRead;
        }
    }

    /** A status that does not fit {@link MoETrainingJobStatus}: every field is null or empty. */
    public static final class UnreadableStatus extends MoETrainingJobStatus {
        public final transient JsonNode stored;
        public final transient List<Problem> problems;

        UnreadableStatus(JsonNode stored, List<Problem> problems) {
            this.stored = stored;
            this.problems = List.copyOf(problems);
        }
    }

    /**
     * What could not be read.
     *
     * @param field    the field's path, e.g. {@code spec.resources.nodes} or {@code spec.trainer.env[0].name}
     * @param value    its stored value (a missing node when the path cannot be followed)
     * @param expected the Java type the value must fit (Integer, a List, TrainingSpec, an enum, ...), or null when
     *                 Jackson does not say
     * @param reason   the first line of Jackson's message, e.g. "Numeric value (3000000000) out of range of int"
     */
    public record Problem(String field, JsonNode value, Class<?> expected, String reason) {}

    /** Deepest nesting below {@code spec} or {@code status} that is read into the Java types. */
    public static final int MAX_DEPTH = 64;
    /** What replaces the part of a too-deep object below {@link #MAX_DEPTH} levels when it is written back. */
    public static final String CUT = "(nested too deep: removed by the operator)";

    /** Reads the job's objects: plain bean reading with the strictness described on this class. */
    private static final ObjectMapper STRICT = strictMapper();

    private static ObjectMapper strictMapper() {
        ObjectMapper m = JsonMapper.builder()
                .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
                .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
                .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NUMBERS_FOR_ENUMS)
                .build();
        for (CoercionInputShape shape :
                List.of(CoercionInputShape.Integer, CoercionInputShape.Float, CoercionInputShape.Boolean)) {
            m.coercionConfigFor(LogicalType.Textual).setCoercion(shape, CoercionAction.Fail);
        }
        m.coercionConfigFor(LogicalType.Enum).setCoercion(CoercionInputShape.EmptyString, CoercionAction.Fail);
        return m;
    }

    /**
     * The spec of a job, as JSON (a stored object's, or a file's), read into the Java types: null when there is
     * none, an {@link UnreadableSpec} when it does not fit them. Never throws.
     */
    public static MoETrainingJobSpec readSpec(JsonNode spec) {
        if (spec == null || spec.isNull() || spec.isMissingNode()) {
            return null;
        }
        UnreadableSpec tooDeep = tooDeep(spec, "spec", UnreadableSpec::new);
        if (tooDeep != null) {
            return tooDeep;
        }
        Reading<MoETrainingJobSpec> r = read(spec, "spec", MoETrainingJobSpec.class);
        if (r.problems.isEmpty()) {
            return r.value;
        }
        UnreadableSpec unreadable = new UnreadableSpec(spec, r.problems, r.rest != null);
        if (r.rest != null) {
            try {
                STRICT.readerForUpdating(unreadable).readValue(r.rest);
            } catch (IOException | IllegalArgumentException e) {
                return new UnreadableSpec(spec, r.problems, false); // not expected: the rest was read once
            }
        }
        return unreadable;
    }

    /** The status of a job, read like {@link #readSpec}; an unreadable status keeps none of its fields. */
    public static MoETrainingJobStatus readStatus(JsonNode status) {
        if (status == null || status.isNull() || status.isMissingNode()) {
            return null;
        }
        UnreadableStatus tooDeep =
                tooDeep(status, "status", (cut, problems, others) -> new UnreadableStatus(cut, problems));
        if (tooDeep != null) {
            return tooDeep;
        }
        Reading<MoETrainingJobStatus> r = read(status, "status", MoETrainingJobStatus.class);
        return r.problems.isEmpty() ? r.value : new UnreadableStatus(status, r.problems);
    }

    /** The Jackson module for a client's mapper: MoETrainingJob's spec and status are read by this class. */
    public static SimpleModule module() {
        SimpleModule module = new SimpleModule("moe-tolerant-job-reading");
        module.addDeserializer(
                MoETrainingJobSpec.class, new TreeReader<>(MoETrainingJobSpec.class, TolerantJobReading::readSpec));
        module.addDeserializer(
                MoETrainingJobStatus.class,
                new TreeReader<>(MoETrainingJobStatus.class, TolerantJobReading::readStatus));
        module.addSerializer(UnreadableSpec.class, new StoredJson<>(UnreadableSpec.class, s -> s.stored));
        module.addSerializer(UnreadableStatus.class, new StoredJson<>(UnreadableStatus.class, s -> s.stored));
        return module;
    }

    /** Builds an unreadable object from (stored tree, problems, others read). */
    private interface Unreadable<T> {
        T of(JsonNode stored, List<Problem> problems, boolean othersRead);
    }

    /**
     * An object nested deeper than {@link #MAX_DEPTH} levels (a free-form map such as {@code spec.model.config} has
     * no depth bound in a schema; the API server's JSON decoder stops at 10,000): unreadable, found before any
     * recursive reading, and kept cut at {@link #MAX_DEPTH} levels, so that writing it back (status patches carry
     * the spec, JOSDK clones through JSON) is bounded too and its clone reads, the plan engine naming the field
     * that holds the wrong value. Null when it is not too deep.
     */
    private static <T> T tooDeep(JsonNode stored, String root, Unreadable<T> unreadable) {
        String path = deeperThan(stored, root, MAX_DEPTH);
        if (path == null) {
            return null;
        }
        return unreadable.of(
                cut(stored, MAX_DEPTH),
                List.of(new Problem(
                        path, MissingNode.getInstance(), null, "nested deeper than " + MAX_DEPTH + " levels")),
                false);
    }

    /** The path of the first node more than {@code max} levels below {@code tree}, or null; iterative. */
    static String deeperThan(JsonNode tree, String root, int max) {
        record Frame(JsonNode node, String path, int depth) {}
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
                    todo.push(new Frame(
                            f.node().get(i), f.depth() < 8 ? f.path() + "[" + i + "]" : f.path(), f.depth() + 1));
                }
            }
        }
        return null;
    }

    /** A copy of {@code tree} with every node more than {@code max} levels down replaced by {@link #CUT}; iterative. */
    static JsonNode cut(JsonNode tree, int max) {
        record Frame(JsonNode from, ContainerNode<?> to, int depth) {}
        if (!tree.isContainerNode()) {
            return tree;
        }
        ContainerNode<?> root =
                tree.isObject() ? JsonNodeFactory.instance.objectNode() : JsonNodeFactory.instance.arrayNode();
        Deque<Frame> todo = new ArrayDeque<>();
        todo.push(new Frame(tree, root, 1));
        while (!todo.isEmpty()) {
            Frame f = todo.pop();
            Iterator<Map.Entry<String, JsonNode>> fields =
                    f.from().isObject() ? f.from().fields() : null;
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
                    ContainerNode<?> c = child.isObject()
                            ? JsonNodeFactory.instance.objectNode()
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

    /**
     * What reading found: the value (no problems), or the problems and the tree without the fields at fault
     * ({@code rest}, null when they could not all be set aside).
     */
    private record Reading<T>(T value, List<Problem> problems, JsonNode rest) {}

    /**
     * Reads {@code stored}; a field that does not fit is recorded and set aside (a list as a whole, so the indices
     * of the problems stay those of the stored list), and the rest read again, so every problem is reported at once
     * (up to {@link SpecLimits#MAX_REPORTED_ERRORS}, each a fresh read of a bounded object).
     */
    private static <T> Reading<T> read(JsonNode stored, String root, Class<T> type) {
        JsonNode tree = asTheApiServerReadsIt(stored, root);
        List<Problem> problems = new ArrayList<>();
        while (true) {
            try {
                T value = STRICT.treeToValue(tree, type);
                return problems.isEmpty() ? new Reading<>(value, List.of(), null) : new Reading<>(null, problems, tree);
            } catch (JsonProcessingException | IllegalArgumentException e) {
                problems.add(describe(root, stored, e));
                if (problems.size() >= SpecLimits.MAX_REPORTED_ERRORS || !setAside(tree, e)) {
                    return new Reading<>(null, problems, null);
                }
            }
        }
    }

    /** Removes the field at fault from {@code tree} (the whole list, for an item); false when there is none. */
    private static boolean setAside(JsonNode tree, Exception e) {
        if (!(e instanceof JsonMappingException m) || m.getPath().isEmpty()) {
            return false;
        }
        List<JsonMappingException.Reference> path = m.getPath();
        int end = path.size() - 1;
        for (int i = 0; i < path.size(); i++) {
            if (path.get(i).getFieldName() == null) {
                end = i - 1; // the list that holds the item
                break;
            }
        }
        if (end < 0) {
            return false;
        }
        JsonNode parent = tree;
        for (int i = 0; i < end; i++) {
            parent = parent.path(path.get(i).getFieldName());
        }
        return parent instanceof ObjectNode o && o.remove(path.get(end).getFieldName()) != null;
    }

    /** Where a node lies, for {@link #asTheApiServerReadsIt}: only {@code spec.model.config} is read as written. */
    private enum Where {
        SPEC,
        SPEC_MODEL,
        ELSEWHERE
    }

    /**
     * A copy of {@code node} without null fields and with integral floating values as integers; untouched below
     * {@code spec.model.config} (free-form: the plan engine reads it as written).
     */
    static JsonNode asTheApiServerReadsIt(JsonNode node, String root) {
        return copy(node, root.equals("spec") ? Where.SPEC : Where.ELSEWHERE);
    }

    // The position is an enum, not a path string: keys can be megabytes long and nesting deep.
    private static JsonNode copy(JsonNode node, Where where) {
        if (node.isObject()) {
            ObjectNode copy = JsonNodeFactory.instance.objectNode();
            Iterator<Map.Entry<String, JsonNode>> it = node.fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                if (e.getValue().isNull()) {
                    continue;
                }
                if (where == Where.SPEC_MODEL && e.getKey().equals("config")) {
                    copy.set(e.getKey(), e.getValue());
                } else {
                    Where next = where == Where.SPEC && e.getKey().equals("model") ? Where.SPEC_MODEL : Where.ELSEWHERE;
                    copy.set(e.getKey(), copy(e.getValue(), next));
                }
            }
            return copy;
        }
        if (node.isArray()) {
            ArrayNode copy = JsonNodeFactory.instance.arrayNode();
            node.forEach(item -> copy.add(copy(item, Where.ELSEWHERE)));
            return copy;
        }
        if (node.isFloatingPointNumber() && isIntegral(node)) {
            return JsonNodeFactory.instance.numberNode(node.decimalValue().toBigIntegerExact());
        }
        return node;
    }

    private static boolean isIntegral(JsonNode n) {
        if ((n.isDouble() || n.isFloat()) && !Double.isFinite(n.doubleValue())) {
            return false;
        }
        BigDecimal d = n.decimalValue();
        // a huge exponent (1e400) is integral too, but its integer would have hundreds of digits: keep it a number
        return d.signum() == 0 || (d.stripTrailingZeros().scale() <= 0 && d.precision() - d.scale() <= 40);
    }

    /** The failing field below {@code root}, its stored value, the expected type and Jackson's reason. */
    static Problem describe(String root, JsonNode stored, Exception e) {
        StringBuilder path = new StringBuilder(root);
        JsonNode value = stored;
        String reason = e.getMessage();
        if (e instanceof JsonMappingException m) {
            for (JsonMappingException.Reference r : m.getPath()) {
                if (r.getFieldName() != null) {
                    path.append('.').append(r.getFieldName());
                    value = value.isObject() ? value.path(r.getFieldName()) : MissingNode.getInstance();
                } else {
                    path.append('[').append(r.getIndex()).append(']');
                    value = value.isArray() ? value.path(r.getIndex()) : MissingNode.getInstance();
                }
            }
            reason = m.getOriginalMessage();
        }
        if (reason == null) {
            reason = e.getClass().getSimpleName();
        }
        int newline = reason.indexOf('\n');
        return new Problem(
                path.toString(), value, expectedType(e), (newline >= 0 ? reason.substring(0, newline) : reason).trim());
    }

    private static Class<?> expectedType(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof MismatchedInputException m && m.getTargetType() != null) {
                return m.getTargetType();
            }
            if (t instanceof InputCoercionException c && c.getTargetType() != null) {
                // the parser names the primitive it tried (int for 3000000000); the field is its wrapper
                return MethodType.methodType(c.getTargetType()).wrap().returnType();
            }
            if (t instanceof ValueInstantiationException v && v.getType() != null) {
                return v.getType().getRawClass(); // a type's own creator refused the value
            }
        }
        return null;
    }

    /** Reads the subtree, then hands it to {@code read}. */
    private static final class TreeReader<T> extends StdDeserializer<T> {
        private final java.util.function.Function<JsonNode, T> read;

        TreeReader(Class<T> type, java.util.function.Function<JsonNode, T> read) {
            super(type);
            this.read = read;
        }

        @Override
        public T deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            return read.apply(ctxt.readTree(p));
        }
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
