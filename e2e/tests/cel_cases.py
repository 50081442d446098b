"""One case per CEL rule of the MoETrainingJob CRD (x-kubernetes-validations).

Each Case names the rule by its location in the schema (`path`, e.g. ".spec.parallelism", array items as "[*]")
and its exact rule text, and gives two JSON merge patches onto the valid base job (fixtures/base-job.yaml:
nodes 2 × gpusPerNode 4 = world 8 = data 4 × context 1 × tensor 2, expert 2, seqLength 128, globalBatchSize 16):
`ok` must be accepted and `bad` rejected with the rule's message (or `message`, when the rule has a
messageExpression). Transition rules (oldSelf) set update=True: the object is created from `before`, then updated.
test_every_cel_rule_has_a_case fails when the CRD gains a rule that has no case here.
"""
from dataclasses import dataclass, field


@dataclass
class Case:
    id: str
    path: str
    rule: str
    ok: dict
    bad: dict
    message: str = ""
    update: bool = False
    before: dict = field(default_factory=dict)


# Patches are JSON merge patches: None deletes a field of the base job.
WORLD8 = {"resources": {"nodes": 2, "gpusPerNode": 4}}

CASES: list[Case] = [
    Case(
        id="restart-backoff-bounds",
        path=".spec.restartPolicy",
        rule="!has(self.backoffSeconds) || !has(self.maxBackoffSeconds) || self.maxBackoffSeconds >= self.backoffSeconds",
        ok={"spec": {"restartPolicy": {"backoffSeconds": 10, "maxBackoffSeconds": 10}}},
        bad={"spec": {"restartPolicy": {"backoffSeconds": 60, "maxBackoffSeconds": 30}}},
    ),
    Case(
        id="dataset-tokens-needs-path",
        path=".spec.training.dataset",
        rule="self.type != 'tokens' || has(self.path)",
        ok={"spec": {"training": {"dataset": {"type": "tokens", "path": "/data/tokens.bin"}}}},
        bad={"spec": {"training": {"dataset": {"type": "tokens"}}}},
    ),
    Case(
        id="world-equals-data-context-tensor",
        path=".spec",
        rule="!has(self.parallelism.data) || self.resources.nodes * self.resources.gpusPerNode"
             " == self.parallelism.data * self.parallelism.context * self.parallelism.tensor",
        ok={"spec": {**WORLD8, "parallelism": {"data": 4, "context": 1, "tensor": 2}}},
        bad={"spec": {**WORLD8, "parallelism": {"data": 2, "context": 1, "tensor": 2}}},
    ),
    Case(
        id="context-tensor-divide-world",
        path=".spec",
        rule="(self.resources.nodes * self.resources.gpusPerNode) % (self.parallelism.context"
             " * self.parallelism.tensor) == 0",
        ok={"spec": {**WORLD8, "parallelism": {"data": None, "context": 2, "tensor": 2}}},
        # context 3: 8 % 3 != 0 (seqLength 96 keeps the seqLength rule satisfied)
        bad={"spec": {**WORLD8, "parallelism": {"data": None, "context": 3, "tensor": 1},
                      "training": {"seqLength": 96}}},
    ),
    Case(
        id="tensor-divides-gpus-per-node",
        path=".spec",
        rule="self.parallelism.tensor <= self.resources.gpusPerNode && self.resources.gpusPerNode"
             " % self.parallelism.tensor == 0",
        ok={"spec": {**WORLD8, "parallelism": {"data": None, "tensor": 4}}},
        # 3 nodes × 4 GPUs = 12 is divisible by tensor 3, but tensor 3 does not divide 4 GPUs per node
        bad={"spec": {"resources": {"nodes": 3, "gpusPerNode": 4}, "parallelism": {"data": None, "tensor": 3}}},
    ),
    Case(
        id="expert-divides-world",
        path=".spec",
        rule="(self.resources.nodes * self.resources.gpusPerNode) % self.parallelism.expert == 0",
        ok={"spec": {**WORLD8, "parallelism": {"expert": 8}}},
        bad={"spec": {**WORLD8, "parallelism": {"expert": 3}}},
    ),
    Case(
        id="seq-length-divisible-by-2-context",
        path=".spec",
        rule="!has(self.training) || !has(self.training.seqLength) || self.training.seqLength"
             " % (2 * self.parallelism.context) == 0",
        ok={"spec": {**WORLD8, "parallelism": {"data": None, "context": 2, "tensor": 1}, "training": {"seqLength": 132}}},
        bad={"spec": {**WORLD8, "parallelism": {"data": None, "context": 2, "tensor": 1}, "training": {"seqLength": 130}}},
    ),
    Case(
        id="global-batch-multiple-of-micro-times-data",
        path=".spec",
        rule="!has(self.training) || !has(self.training.globalBatchSize) ||"
             " !has(self.parallelism.data) || self.training.globalBatchSize % ((has(self.training.microBatchSize)"
             " ? self.training.microBatchSize : 1) * self.parallelism.data) == 0",
        ok={"spec": {"training": {"microBatchSize": 2, "globalBatchSize": 24}}},   # 24 = 2 × 4 × 3
        bad={"spec": {"training": {"microBatchSize": 2, "globalBatchSize": 12}}},  # 12 % 8 != 0
    ),
    Case(
        id="parallelism-immutable-unless-suspended",
        path=".spec",
        rule="self.suspend || oldSelf.suspend || self.parallelism == oldSelf.parallelism",
        update=True,
        before={"spec": {"suspend": False}},
        ok={"spec": {"suspend": True, "parallelism": {"expert": 4}}},
        bad={"spec": {"parallelism": {"expert": 4}}},
    ),
    Case(
        id="resources-immutable-unless-suspended",
        path=".spec",
        rule="self.suspend || oldSelf.suspend || self.resources == oldSelf.resources",
        update=True,
        before={"spec": {"suspend": False}},
        ok={"spec": {"suspend": True, "resources": {"gpuMemoryGiB": 40}}},
        bad={"spec": {"resources": {"gpuMemoryGiB": 40}}},
    ),
]
