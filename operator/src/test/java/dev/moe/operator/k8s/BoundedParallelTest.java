package dev.moe.operator.k8s;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class BoundedParallelTest {

    @Test
    void runBesideRunsBothAtOnce() {
        // Each side waits for the other to have started: run one after the other, neither would finish.
        CountDownLatch besideStarted = new CountDownLatch(1);
        CountDownLatch mainStarted = new CountDownLatch(1);
        BoundedParallel.runBeside(
                () -> {
                    besideStarted.countDown();
                    awaitOrFail(mainStarted);
                },
                () -> {
                    mainStarted.countDown();
                    awaitOrFail(besideStarted);
                });
    }

    @Test
    void runBesideWaitsForBothAndRethrowsMainsFailureFirst() {
        RuntimeException mainFailure = new IllegalStateException("main");
        RuntimeException besideFailure = new IllegalArgumentException("beside");
        assertThatThrownBy(() -> BoundedParallel.runBeside(
                        () -> {
                            throw besideFailure;
                        },
                        () -> {
                            throw mainFailure;
                        }))
                .isSameAs(mainFailure)
                .satisfies(e -> assertThat(e.getSuppressed()).containsExactly(besideFailure));
        assertThatThrownBy(() -> BoundedParallel.runBeside(
                        () -> {
                            throw besideFailure;
                        },
                        () -> {}))
                .isSameAs(besideFailure);
    }

    @Test
    void runBesideReturnsOnlyOnceTheOtherSideIsDone() {
        CountDownLatch besideDone = new CountDownLatch(1);
        BoundedParallel.runBeside(
                () -> {
                    sleep(200);
                    besideDone.countDown();
                },
                () -> {});
        assertThat(besideDone.getCount()).isZero();
    }

    private static void awaitOrFail(CountDownLatch latch) {
        try {
            if (!latch.await(10, TimeUnit.SECONDS)) {
                throw new AssertionError("the other side never started");
            }
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }
}
