package dev.moe.operator;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The operator's packages form layers, not a tangle: no package imports, directly or through others, a package that
 * imports it back. (api ← status ← gang ← k8s ← planner ← dependents ← the reconciler, with config, metrics and
 * health beside them.)
 */
class PackageCyclesTest {
    private static final Path SOURCES = Path.of("src/main/java/dev/moe/operator");
    private static final Pattern IMPORT =
            Pattern.compile("^import (?:static )?dev\\.moe\\.operator\\.([a-z0-9]+)\\.", Pattern.MULTILINE);
    private static final Pattern ROOT_IMPORT =
            Pattern.compile("^import (?:static )?dev\\.moe\\.operator\\.[A-Z]", Pattern.MULTILINE);

    @Test
    void thePackageGraphHasNoCycle() throws IOException {
        Map<String, Set<String>> imports = new TreeMap<>();
        try (Stream<Path> files = Files.walk(SOURCES)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                String pkg = SOURCES.relativize(f.getParent()).toString();
                String from = pkg.isEmpty() ? "(root)" : pkg.split("/")[0];
                String src = Files.readString(f);
                Set<String> to = imports.computeIfAbsent(from, k -> new TreeSet<>());
                Matcher m = IMPORT.matcher(src);
                while (m.find()) {
                    if (!m.group(1).equals(from)) {
                        to.add(m.group(1));
                    }
                }
                if (ROOT_IMPORT.matcher(src).find() && !from.equals("(root)")) {
                    to.add("(root)");
                }
            }
        }
        assertThat(imports).containsKeys("(root)", "gang", "k8s", "status");
        List<String> cycles = new ArrayList<>();
        for (String start : imports.keySet()) {
            if (reaches(imports, start, start, new TreeSet<>())) {
                cycles.add(start + " imports " + imports.get(start));
            }
        }
        assertThat(cycles).as("packages on an import cycle").isEmpty();
    }

    private static boolean reaches(Map<String, Set<String>> g, String from, String target, Set<String> seen) {
        for (String next : g.getOrDefault(from, Set.of())) {
            if (next.equals(target)) {
                return true;
            }
            if (seen.add(next) && reaches(g, next, target, seen)) {
                return true;
            }
        }
        return false;
    }
}
