package dev.moe.plan;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/** Small integer helpers for the plan rules. */
final class Divisors {
    private Divisors() {}

    /** Positive divisors of n, ascending (none for n &lt; 1). O(√n). */
    static List<Integer> of(int n) {
        List<Integer> small = new ArrayList<>();
        List<Integer> large = new ArrayList<>();
        for (int d = 1; d <= n / d; d++) {
            if (n % d == 0) {
                small.add(d);
                if (d != n / d) {
                    large.add(n / d);
                }
            }
        }
        for (int i = large.size() - 1; i >= 0; i--) {
            small.add(large.get(i));
        }
        return small;
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
