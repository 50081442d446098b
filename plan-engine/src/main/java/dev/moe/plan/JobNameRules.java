package dev.moe.plan;

import static dev.moe.api.v1alpha1.ObjectNameRules.MAX_JOB_NAME_LENGTH;

import dev.moe.api.v1alpha1.ObjectNameRules;
import java.util.List;

/**
 * The job-name rule: a job's name must make valid names for everything the operator derives from it (a DNS-1035
 * label of at most {@link ObjectNameRules#MAX_JOB_NAME_LENGTH} characters; the reasons are on
 * {@link ObjectNameRules}). Rule ids: JobNameInvalid, JobNameTooLong.
 */
public final class JobNameRules {
    private JobNameRules() {}

    /** Problems of a job name (metadata.name), each naming the name and the fix. Empty when it is valid. */
    public static List<PlanError> checkJobName(String name) {
        if (name == null || name.isEmpty()) {
            return List.of(new PlanError("JobNameInvalid", "metadata.name", null, "is required", "name the job"));
        }
        if (name.length() > MAX_JOB_NAME_LENGTH) {
            return List.of(new PlanError(
                    "JobNameTooLong",
                    "metadata.name",
                    name,
                    "has " + name.length()
                            + " characters, more than " + MAX_JOB_NAME_LENGTH
                            + ": the operator names pods <job>-node-<rank>"
                            + " (also their hostnames) and Kueue pod groups <job>-a<attempt>, which must fit 63 characters",
                    "use a name of at most " + MAX_JOB_NAME_LENGTH + " characters"));
        }
        if (!ObjectNameRules.isDns1035Label(name)) {
            return List.of(new PlanError(
                    "JobNameInvalid",
                    "metadata.name",
                    name,
                    "is not a DNS-1035 label"
                            + " (lowercase letters, digits and '-', starting with a letter, ending with a letter or digit):"
                            + " it names the job's headless Service and is the subdomain of every pod",
                    "rename the job, e.g. " + suggestName(name)));
        }
        return List.of();
    }

    /** A DNS-1035 label close to {@code name}, for the fix of an invalid name. */
    static String suggestName(String name) {
        StringBuilder sb = new StringBuilder();
        for (char c : name.toLowerCase(java.util.Locale.ROOT).toCharArray()) {
            if (sb.length() >= MAX_JOB_NAME_LENGTH) {
                break;
            }
            boolean ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
            if (ok) {
                sb.append(c);
            } else if (sb.length() > 0 && sb.charAt(sb.length() - 1) != '-') {
                sb.append('-');
            }
        }
        while (sb.length() > 0 && sb.charAt(sb.length() - 1) == '-') {
            sb.setLength(sb.length() - 1);
        }
        if (sb.length() == 0 || !(sb.charAt(0) >= 'a' && sb.charAt(0) <= 'z')) {
            sb.insert(0, "job-");
        }
        return sb.length() > MAX_JOB_NAME_LENGTH
                ? sb.substring(0, MAX_JOB_NAME_LENGTH).replaceAll("-+$", "")
                : sb.toString();
    }
}
