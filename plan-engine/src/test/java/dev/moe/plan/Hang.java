package dev.moe.plan;

import java.time.Duration;

/** The bound of the tests that detect a hang (an endless loop, a quadratic blow-up) in the plan engine or CLI. */
public final class Hang {
    private Hang() {}

    /**
     * Not a speed target: one case takes milliseconds warm, but a loaded two-core CI machine can stall a thread for
     * a second; a loop that never ends still fails.
     */
    public static final Duration LIMIT = Duration.ofSeconds(5);
}
