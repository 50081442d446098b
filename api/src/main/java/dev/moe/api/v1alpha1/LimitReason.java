package dev.moe.api.v1alpha1;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Why an integer of the spec is bounded where its {@code @Min}/{@code @Max} say (for a list of integers: its
 * items). The declaration is the one place of the bound: the CRD is generated from {@code @Min}/{@code @Max},
 * {@link SpecLimits#RANGES} is read from the same annotations and this reason, and the plan engine shows the reason
 * in its error (ValueTooLarge); docs/limits.md is the same table for readers (SpecLimitsTest compares them).
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.FIELD)
public @interface LimitReason {
    String value();
}
