package dev.moe.operator.webhook;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.operator.TestJobs;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionRequest;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionReview;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import jakarta.inject.Inject;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The webhook over HTTP, as the API server calls it: an AdmissionReview (admission.k8s.io/v1) POSTed as JSON, the
 * answer an AdmissionReview with the request's uid. (The real API server calling it over TLS: e2e/webhook_tests.)
 */
@QuarkusTest
@WithKubernetesTestServer(crud = true)
class AdmissionWebhookTest {

    @Inject
    KubernetesClient client;

    Map<?, ?> post(String operation, MoETrainingJob job, MoETrainingJob old) {
        AdmissionRequest request = new AdmissionRequest();
        request.setUid("uid-" + operation + "-" + job.getMetadata().getName());
        request.setOperation(operation);
        request.setNamespace(job.getMetadata().getNamespace());
        request.setName(job.getMetadata().getName());
        request.setObject(job);
        request.setOldObject(old);
        request.setDryRun(true);
        AdmissionReview review = new AdmissionReview();
        review.setRequest(request);
        String body = given().contentType("application/json")
                .body(client.getKubernetesSerialization().asJson(review))
                .post(AdmissionWebhook.PATH)
                .then()
                .statusCode(200)
                .extract()
                .asString();
        @SuppressWarnings("unchecked")
        Map<String, Object> answer = client.getKubernetesSerialization().unmarshal(body, Map.class);
        assertThat(answer.get("apiVersion")).isEqualTo("admission.k8s.io/v1");
        assertThat(answer.get("kind")).isEqualTo("AdmissionReview");
        Map<?, ?> response = (Map<?, ?>) answer.get("response");
        assertThat(response.get("uid")).isEqualTo(request.getUid());
        return response;
    }

    @Test
    void aValidJobIsAllowed() {
        Map<?, ?> r = post("CREATE", TestJobs.tiny("training", "hook-ok", 2), null);
        assertThat(r.get("allowed")).isEqualTo(true);
        assertThat(r.get("warnings")).isNull();
    }

    @Test
    void anInvalidJobIsRefusedWithTheEnginesMessageAndOneCausePerError() {
        MoETrainingJob job = TestJobs.tiny("training", "hook-bad", 2);
        job.getSpec().parallelism.expert = 3;
        Map<?, ?> r = post("CREATE", job, null);
        assertThat(r.get("allowed")).isEqualTo(false);
        Map<?, ?> status = (Map<?, ?>) r.get("status");
        assertThat(status.get("code")).isEqualTo(AdmissionWebhook.REFUSED_CODE);
        assertThat(status.get("reason")).isEqualTo("Invalid");
        assertThat((String) status.get("message")).contains("spec.parallelism.expert=3");
        Map<?, ?> details = (Map<?, ?>) status.get("details");
        assertThat((java.util.List<?>) details.get("causes"))
                .isNotEmpty()
                .allSatisfy(c -> assertThat(((Map<?, ?>) c).get("field")).isEqualTo("spec.parallelism.expert"));
    }

    @Test
    void aSlowPlanIsAllowedWithAWarning() {
        MoETrainingJob job = TestJobs.tiny("training", "hook-slow", 2);
        job.getSpec().parallelism.tensor = 1;
        job.getSpec().parallelism.expert = 4;
        Map<?, ?> r = post("CREATE", job, null);
        assertThat(r.get("allowed")).isEqualTo(true);
        assertThat((java.util.List<?>) r.get("warnings"))
                .anySatisfy(w -> assertThat((String) w).contains("expert-parallel groups span 2 nodes"));
    }

    @Test
    void aSpecThatDoesNotFitTheTypesIsRefusedNamingTheField() {
        MoETrainingJob job = TestJobs.tiny("training", "hook-unreadable", 2);
        String json = client.getKubernetesSerialization().asJson(job).replace("\"nodes\":2", "\"nodes\":\"two\"");
        assertThat(json).contains("\"nodes\":\"two\"");
        String review =
                "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u1\","
                        + "\"operation\":\"CREATE\",\"namespace\":\"training\",\"name\":\"hook-unreadable\",\"object\":"
                        + json + "}}";
        String body = given().contentType("application/json")
                .body(review)
                .post(AdmissionWebhook.PATH)
                .then()
                .statusCode(200)
                .extract()
                .asString();
        assertThat(body).contains("\"allowed\":false").contains("spec.resources.nodes");
    }

    @Test
    void somethingThatIsNoAdmissionReviewIsABadRequest() {
        given().contentType("application/json")
                .body("[1,2")
                .post(AdmissionWebhook.PATH)
                .then()
                .statusCode(400);
        given().contentType("application/json")
                .body("{}")
                .post(AdmissionWebhook.PATH)
                .then()
                .statusCode(400);
    }
}
