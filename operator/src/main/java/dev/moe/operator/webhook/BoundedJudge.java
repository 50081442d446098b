package dev.moe.operator.webhook;

import dev.moe.operator.webhook.JobAdmission.Verdict;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.jboss.logging.Logger;

/**
 * Runs admission verdicts on a pool of its own, a few threads with a short queue, each verdict under a deadline:
 * the webhook shares the operator's process with the reconciler, and a job built to be slow (or a flood of
 * requests) must neither stall the API server's request nor take threads, memory or time from reconciling. The
 * plan engine is bounded already (SpecLimits: range checks before arithmetic, closed-form counts); this is the
 * second fence. A verdict that does not come in time, or finds the pool full, or fails, lets the request through
 * with a warning that says so: the reconciler judges every stored job anyway (status Invalid), so nothing is
 * skipped, only answered later. The chart's failurePolicy decides the other case, an operator that is not
 * reachable at all.
 */
final class BoundedJudge implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(BoundedJudge.class);

    /** The warning returned when no verdict came: what happened and what the user gets instead. */
    static final String UNJUDGED = "the operator's admission check could not judge this job now (%s); it judges it"
            + " once stored: see status.phase and the PlanValid condition (kubectl describe moejob)";

    private final ThreadPoolExecutor pool;
    private final Duration timeout;

    BoundedJudge(int threads, int queue, Duration timeout) {
        AtomicInteger n = new AtomicInteger();
        this.pool = new ThreadPoolExecutor(
                threads,
                threads,
                60,
                TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(queue),
                r -> {
                    Thread t = new Thread(r, "moe-admission-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                },
                new ThreadPoolExecutor.AbortPolicy());
        this.pool.allowCoreThreadTimeOut(true);
        this.timeout = timeout;
    }

    /** The verdict, or an allowing one with a warning when none came within the deadline. */
    Verdict judge(Callable<Verdict> verdict) {
        Future<Verdict> f;
        try {
            f = pool.submit(verdict);
        } catch (RejectedExecutionException e) {
            return unjudged("too many admission requests in flight");
        }
        try {
            return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            LOG.warnf("admission verdict took longer than %s; allowed, the reconciler judges the job", timeout);
            return unjudged("no verdict within " + timeout.toMillis() + " ms");
        } catch (ExecutionException e) {
            LOG.errorf(e.getCause(), "admission verdict failed; allowed, the reconciler judges the job");
            return unjudged("the check failed: " + e.getCause().getClass().getSimpleName());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return unjudged("interrupted");
        }
    }

    static Verdict unjudged(String why) {
        return Verdict.allow(List.of(String.format(UNJUDGED, why)));
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
