package dev.moe.plan;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Layout properties over many degree combinations (plain loops, no property-testing library). */
class RankLayoutPropertiesTest {

    @Test
    void layout_properties_hold_for_many_plans() {
        int checked = 0;
        for (int gpusPerNode : new int[] {1, 2, 4, 6, 8}) {
            for (int nodes : new int[] {1, 2, 3, 4, 8, 16}) {
                int world = nodes * gpusPerNode;
                for (int tensor : Divisors.of(gpusPerNode)) {
                    for (int expert : Divisors.of(world)) {
                        for (int numExperts : new int[] {8, 64, 128, 96}) {
                            if (numExperts % expert != 0) {
                                continue;
                            }
                            check(
                                    RankLayout.of(nodes, gpusPerNode, tensor, 1, expert, numExperts),
                                    nodes,
                                    gpusPerNode,
                                    tensor,
                                    1,
                                    expert,
                                    numExperts);
                            checked++;
                        }
                    }
                }
            }
        }
        // context > 1 is refused by the engine, but the layout itself follows the contract for it too
        check(RankLayout.of(4, 8, 2, 2, 16, 128), 4, 8, 2, 2, 16, 128);
        assertThat(checked).isGreaterThan(500);
    }

    @Test
    void engine_plans_carry_the_same_layout_into_json() {
        int checked = 0;
        for (int nodes : new int[] {1, 2, 4}) {
            for (int gpusPerNode : new int[] {1, 2, 4}) {
                for (int tensor : Divisors.of(gpusPerNode)) {
                    for (int expert : Divisors.of(8)) {
                        PlanResult r = Specs.plan(Specs.tiny(nodes, gpusPerNode, tensor, expert));
                        boolean expectValid = tensor <= 2
                                && (nodes * gpusPerNode) % expert == 0
                                && (expert % gpusPerNode == 0 || gpusPerNode % expert == 0);
                        assertThat(r.isValid())
                                .as("%d×%d t=%d e=%d: %s", nodes, gpusPerNode, tensor, expert, r.errorMessages())
                                .isEqualTo(expectValid);
                        if (!expectValid) {
                            continue;
                        }
                        Plan p = r.plan();
                        check(p.ranks(), nodes, gpusPerNode, tensor, 1, expert, 8);
                        ObjectNode doc = p.toJson();
                        JsonNode ranks = doc.get("ranks");
                        assertThat(ranks.size()).isEqualTo(nodes * gpusPerNode);
                        for (RankAssignment a : p.ranks()) {
                            JsonNode j = ranks.get(a.rank());
                            assertThat(j.get("rank").intValue()).isEqualTo(a.rank());
                            assertThat(j.get("node").intValue()).isEqualTo(a.node());
                            assertThat(j.get("localRank").intValue()).isEqualTo(a.localRank());
                            assertThat(j.get("data").intValue()).isEqualTo(a.data());
                            assertThat(j.get("tensor").intValue()).isEqualTo(a.tensor());
                            assertThat(j.get("expert").intValue()).isEqualTo(a.expert());
                            assertThat(j.get("expertData").intValue()).isEqualTo(a.expertData());
                            assertThat(j.get("experts").get(0).intValue()).isEqualTo(a.firstExpert());
                            assertThat(j.get("experts").get(1).intValue()).isEqualTo(a.endExpert());
                        }
                        checked++;
                    }
                }
            }
        }
        assertThat(checked).isGreaterThan(20);
    }

    static void check(
            List<RankAssignment> ranks,
            int nodes,
            int gpusPerNode,
            int tensor,
            int context,
            int expert,
            int numExperts) {
        int world = nodes * gpusPerNode;
        String what = nodes + "x" + gpusPerNode + " t=" + tensor + " c=" + context + " e=" + expert;
        assertThat(ranks).as(what).hasSize(world);

        // every rank exactly once, at its own index, on node × gpusPerNode + localRank
        Set<Integer> seen = new HashSet<>();
        Set<Integer> slots = new HashSet<>();
        for (int i = 0; i < ranks.size(); i++) {
            RankAssignment r = ranks.get(i);
            assertThat(r.rank()).as(what).isEqualTo(i);
            assertThat(seen.add(r.rank())).as(what).isTrue();
            assertThat(r.node()).as(what).isBetween(0, nodes - 1);
            assertThat(r.localRank()).as(what).isBetween(0, gpusPerNode - 1);
            assertThat(slots.add(r.node() * gpusPerNode + r.localRank()))
                    .as(what)
                    .isTrue();
            assertThat(r.node() * gpusPerNode + r.localRank()).as(what).isEqualTo(r.rank());
            // dense mesh: rank = ((data × C) + context) × T + tensor
            assertThat((r.data() * context + r.context()) * tensor + r.tensor())
                    .as(what)
                    .isEqualTo(r.rank());
            assertThat(r.tensor()).isBetween(0, tensor - 1);
            assertThat(r.context()).isBetween(0, context - 1);
            // expert mesh: rank = expertData × E + expert
            assertThat(r.expertData() * expert + r.expert()).as(what).isEqualTo(r.rank());
        }

        // dense coordinates cover the (data, context, tensor) grid exactly once
        Set<List<Integer>> dense = new HashSet<>();
        ranks.forEach(r -> dense.add(List.of(r.data(), r.context(), r.tensor())));
        assertThat(dense).as(what).hasSize(world);

        // TP groups (same data, context) lie inside one node
        Map<List<Integer>, Set<Integer>> tpNodes = new HashMap<>();
        ranks.forEach(r -> tpNodes.computeIfAbsent(List.of(r.data(), r.context()), k -> new HashSet<>())
                .add(r.node()));
        assertThat(tpNodes.values()).as(what).allMatch(s -> s.size() == 1);
        assertThat(tpNodes).hasSize(world / tensor);

        // in every expert group (same expertData) the owners cover all experts exactly once
        Map<Integer, int[]> owners = new HashMap<>();
        for (RankAssignment r : ranks) {
            int[] count = owners.computeIfAbsent(r.expertData(), k -> new int[numExperts]);
            assertThat(r.endExpert() - r.firstExpert()).as(what).isEqualTo(numExperts / expert);
            for (int x = r.firstExpert(); x < r.endExpert(); x++) {
                count[x]++;
            }
        }
        assertThat(owners).as(what).hasSize(world / expert);
        owners.values().forEach(c -> {
            for (int x : c) {
                assertThat(x).as(what).isEqualTo(1);
            }
        });
    }
}
