package dev.moe.plan;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The job-name rule. */
class JobNameRulesTest {

    @Test
    void job_names_are_short_dns_1035_labels() {
        assertThat(JobNameRules.checkJobName("qwen3-30b")).isEmpty();
        assertThat(JobNameRules.checkJobName("a".repeat(51))).isEmpty();

        List<PlanError> tooLong = JobNameRules.checkJobName("a".repeat(52));
        assertThat(tooLong).extracting(PlanError::rule).containsExactly("JobNameTooLong");
        assertThat(tooLong.get(0).message())
                .startsWith("metadata.name=" + "a".repeat(52) + " has 52 characters, more" + " than 51")
                .endsWith("use a name of at most 51 characters");

        for (String bad : List.of("Qwen", "my.job", "1job", "job-", "-job", "job_1", "jöb")) {
            List<PlanError> e = JobNameRules.checkJobName(bad);
            assertThat(e).as(bad).extracting(PlanError::rule).containsExactly("JobNameInvalid");
            assertThat(JobNameRules.checkJobName(JobNameRules.suggestName(bad)))
                    .as("suggestion for " + bad)
                    .isEmpty();
        }
        assertThat(JobNameRules.checkJobName("my.job").get(0).message())
                .isEqualTo("metadata.name=my.job is not a"
                        + " DNS-1035 label (lowercase letters, digits and '-', starting with a letter, ending with a letter or"
                        + " digit): it names the job's headless Service and is the subdomain of every pod; rename the job,"
                        + " e.g. my-job");
    }
}
