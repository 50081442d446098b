package dev.moe.plan;

/** Placeholder, replaced below. */
public final class PlanEngine {
}
