package dev.moe.operator;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The CRDs committed under crds/ are the ones the build generates from the Java types (runs after `package`,
 * when quarkus:build has written operator/target/kubernetes/). To update them after changing the API types:
 * {@code mvn -DskipTests package && cp operator/target/kubernetes/*.training.moe.dev-v1.yml crds/}.
 */
public class CrdDriftIT {
    public static final Path ROOT =
            Path.of(System.getProperty("moe.repo.root", "..")).toAbsolutePath().normalize();
    static final Path GENERATED = Path.of(System.getProperty("moe.generated.crd.dir", "target/kubernetes"));

    @Test
    void committed_crds_match_the_generated_ones() throws IOException {
        List<Path> generated;
        try (Stream<Path> s = Files.list(GENERATED)) {
            generated = s.filter(p -> p.getFileName().toString().endsWith(".training.moe.dev-v1.yml"))
                    .sorted()
                    .toList();
        }
        assertThat(generated).as("CRDs generated into " + GENERATED).isNotEmpty();
        for (Path g : generated) {
            Path committed = ROOT.resolve("crds").resolve(g.getFileName());
            assertThat(committed)
                    .as("committed copy of " + g.getFileName() + " (cp operator/target/kubernetes/" + g.getFileName()
                            + " crds/)")
                    .exists();
            assertThat(Files.readString(committed))
                    .as(committed + " differs from the CRD generated from the Java"
                            + " types; run: cp operator/target/kubernetes/" + g.getFileName() + " crds/")
                    .isEqualTo(Files.readString(g));
        }
        try (Stream<Path> s = Files.list(ROOT.resolve("crds"))) {
            List<String> names =
                    generated.stream().map(p -> p.getFileName().toString()).toList();
            assertThat(s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".yml")))
                    .as("crds/ holds no CRD the build no longer generates")
                    .allMatch(names::contains);
        }
    }
}
