package dev.moe.operator;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The operator image (src/main/docker/Dockerfile.jvm, built with the operator module as context; the README's
 * "Install on a cluster") copies only what `mvn package` writes: every COPY source matches something under
 * target/quarkus-app after the build (runs after `package`, like {@link CrdDriftIT}). No image is built here.
 */
public class DockerfileCopyIT {
    static final Path MODULE = CrdDriftIT.ROOT.resolve("operator");
    static final Path DOCKERFILE = MODULE.resolve("src/main/docker/Dockerfile.jvm");
    private static final Pattern COPY = Pattern.compile("^COPY\\s+(?:--\\S+\\s+)*(\\S+)\\s+\\S+\\s*$");

    static List<String> copySources() throws IOException {
        return Files.readAllLines(DOCKERFILE).stream()
                .map(COPY::matcher)
                .filter(Matcher::matches)
                .map(m -> m.group(1))
                .toList();
    }

    @Test
    void every_copy_source_exists_after_the_build() throws IOException {
        List<String> sources = copySources();
        assertThat(sources).as("COPY lines of " + DOCKERFILE).isNotEmpty();
        for (String source : sources) {
            String glob = source.endsWith("/") ? source.substring(0, source.length() - 1) : source;
            PathMatcher matcher = FileSystems.getDefault().getPathMatcher("glob:" + glob);
            try (Stream<Path> files = Files.walk(MODULE.resolve("target"), 3)) {
                assertThat(files.map(MODULE::relativize).anyMatch(matcher::matches))
                        .as(DOCKERFILE + ": COPY " + source + " matches nothing the build wrote (context " + MODULE
                                + ")")
                        .isTrue();
            }
        }
        assertThat(sources).contains("target/quarkus-app/lib/", "target/quarkus-app/quarkus/");
        assertThat(Files.readString(DOCKERFILE)).contains("quarkus-run.jar");
        assertThat(MODULE.resolve("target/quarkus-app/quarkus-run.jar")).exists();
    }
}
