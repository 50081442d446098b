package dev.moe.operator.k8s;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Deletion expectations: a pod deleted once is not deleted again until the TTL, and only that very pod (uid). */
class PendingDeletesTest {
    private static Pod pod(String name, String uid) {
        return new PodBuilder()
                .withNewMetadata()
                .withName(name)
                .withUid(uid)
                .endMetadata()
                .build();
    }

    @Test
    void aDeletedPodIsSkippedUntilTheTtlButItsSuccessorIsNot() {
        AtomicLong now = new AtomicLong();
        PendingDeletes pending = new PendingDeletes(now::get);
        Pod old = pod("j-node-0", "uid-old");
        Pod other = pod("j-node-1", "uid-other");
        assertThat(pending.notYetDeleted(List.of(old, other))).containsExactly(old, other);

        pending.deleted(old);
        assertThat(pending.notYetDeleted(List.of(old, other))).containsExactly(other);
        // The same name with another uid is a new pod (the next attempt's rank): it may be deleted.
        Pod successor = pod("j-node-0", "uid-new");
        assertThat(pending.notYetDeleted(List.of(successor))).containsExactly(successor);

        now.addAndGet(PendingDeletes.TTL.toNanos() - 1);
        assertThat(pending.notYetDeleted(List.of(old))).isEmpty();
        now.addAndGet(1);
        assertThat(pending.notYetDeleted(List.of(old)))
                .as("still there after the TTL: deleted again")
                .containsExactly(old);
    }

    @Test
    void aPodWithoutUidIsNeverSkippedAndOldEntriesArePruned() {
        AtomicLong now = new AtomicLong();
        PendingDeletes pending = new PendingDeletes(now::get);
        Pod noUid = pod("j-node-0", null);
        pending.deleted(noUid);
        assertThat(pending.notYetDeleted(List.of(noUid))).containsExactly(noUid);

        for (int i = 0; i < 1000; i++) {
            pending.deleted(pod("p" + i, "u" + i));
        }
        now.addAndGet(PendingDeletes.TTL.toNanos());
        for (int i = 0; i < 100; i++) {
            pending.deleted(pod("q" + i, "v" + i));
        }
        assertThat(pending.size()).as("the expired 1,000 went at the prune").isLessThan(1000);
    }
}
