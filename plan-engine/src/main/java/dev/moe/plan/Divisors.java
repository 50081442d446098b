package dev.moe.plan;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/** Small integer helpers for the plan rules. */
final class Divisors {
    private Divisors() {
    }

    /** Positive divisors of n, ascending. */
    static List<Integer> of(int n) {
        List<Integer> out = new ArrayList<>();
        for (int d = 1; d <= n; d++) {
            if (n % d == 0) {
                out.add(d);
            }
        }
        return out;
    }

    /** Positive divisors common to a and b, ascending. */
    static List<Integer> common(int a, int b) {
        List<Integer> out = new ArrayList<>();
        for (int d : of(a)) {
            if (b % d == 0) {
                out.add(d);
            }
        }
        return out;
    }

    static String join(List<Integer> values) {
        return values.stream().map(String::valueOf).collect(Collectors.joining(", "));
    }
}
