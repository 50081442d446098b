package dev.moe.operator.k8s;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.jboss.logging.Logger;

/**
 * Runs API writes with bounded parallelism: at most {@link #MAX_IN_FLIGHT} at a time across the whole operator
 * (one shared pool), like the Job controller's batched pod creation. Creating a 64-pod gang one pod after another
 * costs 64 round trips; 16 in flight cost about 4.
 *
 * <p>Every task runs even when another fails: a failed create loses nothing else, and the next reconcile fills
 * in what is missing (pod names are deterministic). The first failure (in task order) is rethrown, the others
 * are logged and attached as suppressed.
 */
public final class BoundedParallel {
    private BoundedParallel() {}

    public static final int MAX_IN_FLIGHT = 16;
    private static final Logger LOG = Logger.getLogger(BoundedParallel.class);
    private static final AtomicInteger THREADS = new AtomicInteger();
    private static final ExecutorService POOL = Executors.newFixedThreadPool(MAX_IN_FLIGHT, r -> {
        Thread t = new Thread(r, "moe-api-writer-" + THREADS.incrementAndGet());
        t.setDaemon(true);
        return t;
    });

    /**
     * Runs {@code beside} in the pool while {@code main} runs on this thread, and waits for both; rethrows
     * {@code main}'s failure first (the other attached as suppressed). For a write that other writes need not wait
     * for, but whose failure must still reach the caller.
     */
    public static void runBeside(Runnable beside, Runnable main) {
        Future<?> other = POOL.submit(beside);
        RuntimeException failure = null;
        try {
            main.run();
        } catch (RuntimeException e) {
            failure = e;
        }
        throwIfFailed(awaitAll(List.of(other), failure));
    }

    /** Runs every task and waits for all of them; rethrows the first failure in task order. */
    public static void runAll(List<Runnable> tasks) {
        if (tasks.isEmpty()) {
            return;
        }
        if (tasks.size() == 1) {
            tasks.get(0).run();
            return;
        }
        List<Future<?>> futures = new ArrayList<>(tasks.size());
        for (Runnable t : tasks) {
            futures.add(POOL.submit(t));
        }
        throwIfFailed(awaitAll(futures, null));
    }

    /**
     * Waits for every future; returns {@code first}, or else the first failure in order, with every later one
     * attached as suppressed. Interrupted: cancels what has not started and throws.
     */
    private static RuntimeException awaitAll(List<Future<?>> futures, RuntimeException first) {
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                futures.forEach(g -> g.cancel(false));
                RuntimeException ie = new IllegalStateException("interrupted while waiting for API writes", e);
                if (first != null) {
                    ie.addSuppressed(first);
                }
                throw ie;
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                RuntimeException re = cause instanceof RuntimeException r ? r : new IllegalStateException(cause);
                if (first == null) {
                    first = re;
                } else {
                    LOG.debugf("another API write failed too: %s", re.getMessage());
                    first.addSuppressed(re);
                }
            }
        }
        return first;
    }

    private static void throwIfFailed(RuntimeException failure) {
        if (failure != null) {
            throw failure;
        }
    }
}
