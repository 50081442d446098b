package dev.moe.operator.webhook;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.operator.webhook.JobAdmission.Verdict;
import dev.moe.plan.PlanError;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.api.model.StatusCauseBuilder;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionRequest;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionResponse;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionReview;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.javaoperatorsdk.webhook.admission.AdmissionController;
import io.javaoperatorsdk.webhook.admission.AdmissionUtils;
import io.javaoperatorsdk.webhook.admission.NotAllowedException;
import io.javaoperatorsdk.webhook.admission.Operation;
import io.micrometer.core.instrument.Counter;
import io.micrometer.prometheus.PrometheusMeterRegistry;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * The validating admission webhook for MoETrainingJobs: {@code POST /admission/validate-moetrainingjob}, an
 * AdmissionReview (admission.k8s.io/v1) in and out, through the Java Operator SDK's webhook framework
 * ({@link AdmissionController}). Served by the operator's HTTP server on its HTTPS port ({@code quarkus.http.ssl-port},
 * {@code MOE_WEBHOOK_PORT}; the certificate from {@code MOE_WEBHOOK_TLS_CERT}/{@code MOE_WEBHOOK_TLS_KEY}, which
 * the chart mounts), registered by the chart's ValidatingWebhookConfiguration for CREATE and UPDATE of
 * {@code moetrainingjobs} (not {@code /status}: the operator's own status writes never come here), with
 * {@code sideEffects: None} so {@code --dry-run=server} is judged too. What it decides: {@link JobAdmission}; how
 * long it may take: {@link BoundedJudge}.
 */
@ApplicationScoped
public class AdmissionWebhook {
    private static final Logger LOG = Logger.getLogger(AdmissionWebhook.class);

    public static final String PATH = "/admission/validate-moetrainingjob";

    /** The HTTP status of a refusal, as the API server's own validation answers (kubectl: "Invalid"). */
    static final int REFUSED_CODE = 422;

    @Inject
    KubernetesClient client;

    /**
     * Quarkus's Prometheus registry itself, as for every meter of the operator ({@link
     * dev.moe.operator.metrics.JobMetrics#useRegistry} says why).
     */
    @Inject
    PrometheusMeterRegistry registry;

    @ConfigProperty(name = "moe.webhook.timeout", defaultValue = "PT2S")
    Duration timeout;

    @ConfigProperty(name = "moe.webhook.threads", defaultValue = "2")
    int threads;

    @ConfigProperty(name = "moe.webhook.queue", defaultValue = "16")
    int queue;

    /** An AdmissionReview holds the object and, on UPDATE, the old one; the API server caps each at 3 MiB. */
    @ConfigProperty(name = "moe.webhook.max-request-bytes", defaultValue = "16777216")
    long maxRequestBytes;

    private BoundedJudge judge;
    private KubernetesSerialization serialization;
    private AdmissionController<MoETrainingJob> controller;
    private final Map<String, Counter> reviews = new ConcurrentHashMap<>();

    void routes(@Observes Router router) {
        judge = new BoundedJudge(threads, queue, timeout);
        serialization = client.getKubernetesSerialization();
        controller = new AdmissionController<>(this::respond);
        router.post(PATH)
                .handler(BodyHandler.create(false).setBodyLimit(maxRequestBytes))
                .blockingHandler(this::handle, false);
    }

    @PreDestroy
    void close() {
        if (judge != null) {
            judge.close();
        }
    }

    private void handle(RoutingContext ctx) {
        AdmissionReview review;
        try {
            review = serialization.unmarshal(ctx.body().asString(), AdmissionReview.class);
        } catch (RuntimeException e) {
            ctx.response()
                    .setStatusCode(400)
                    .end("not an AdmissionReview: " + e.getClass().getSimpleName());
            return;
        }
        if (review == null || review.getRequest() == null) {
            ctx.response().setStatusCode(400).end("AdmissionReview without a request");
            return;
        }
        AdmissionReview answer = controller.handle(review);
        answer.setApiVersion(review.getApiVersion() == null ? "admission.k8s.io/v1" : review.getApiVersion());
        answer.setKind("AdmissionReview");
        ctx.response().putHeader("Content-Type", "application/json").end(serialization.asJson(answer));
    }

    /** The framework's request handler: the bounded verdict as an AdmissionResponse. */
    private AdmissionResponse respond(AdmissionRequest request) {
        Verdict verdict = judge.judge(() -> JobAdmission.judge(
                operation(request),
                request.getNamespace(),
                request.getName(),
                asJob(request.getObject()),
                asJob(request.getOldObject())));
        count(verdict);
        AdmissionResponse response = verdict.allowed()
                ? AdmissionUtils.allowedAdmissionResponse()
                : AdmissionUtils.notAllowedExceptionToAdmissionResponse(new NotAllowedException(refusal(verdict)));
        if (!verdict.warnings().isEmpty()) {
            response.setWarnings(
                    verdict.warnings().stream().map(PlanError::shorten).toList());
        }
        return response;
    }

    private static io.fabric8.kubernetes.api.model.Status refusal(Verdict verdict) {
        return new StatusBuilder()
                .withStatus("Failure")
                .withCode(REFUSED_CODE)
                .withReason("Invalid")
                .withMessage(verdict.message())
                .withNewDetails()
                .withKind(MoETrainingJob.class.getSimpleName())
                .withName(verdict.name())
                .withGroup(MoETrainingJob.GROUP)
                .withCauses(verdict.causes().stream()
                        .map(c -> new StatusCauseBuilder()
                                .withField(c.field())
                                .withReason(c.rule())
                                .withMessage(c.message())
                                .build())
                        .toList())
                .endDetails()
                .build();
    }

    private static Operation operation(AdmissionRequest request) {
        try {
            return Operation.valueOf(request.getOperation());
        } catch (RuntimeException e) {
            return Operation.CONNECT; // not one the webhook judges: allowed
        }
    }

    /**
     * The request's object (Fabric8 reads it as a map, or a registered kind) as a MoETrainingJob, through the
     * client's mapper: a spec that does not fit the types becomes an UnreadableSpec that the engine reports.
     */
    private MoETrainingJob asJob(Object object) {
        if (object == null || object instanceof MoETrainingJob) {
            return (MoETrainingJob) object;
        }
        return serialization.convertValue(object, MoETrainingJob.class);
    }

    private void count(Verdict verdict) {
        String result = !verdict.allowed() ? "refused" : verdict.warnings().isEmpty() ? "allowed" : "warned";
        reviews.computeIfAbsent(
                        result,
                        r -> Counter.builder("moe.admission.reviews")
                                .description("MoETrainingJob admission reviews by result (refused, warned, allowed)")
                                .tag("result", r)
                                .register(registry))
                .increment();
        if (!verdict.allowed()) {
            LOG.debugf("admission refused: %s", verdict.message());
        }
    }

    /** For tests: what a review gets, without HTTP. */
    AdmissionReview review(AdmissionReview review) {
        return controller.handle(review);
    }
}
