"""One case per CEL rule of the MoETrainingJob CRD (x-kubernetes-validations).

Each Case names the rule by its location in the schema (`path`, e.g. ".spec.parallelism", array items as "[*]")
and its exact rule text, and gives two JSON merge patches onto the valid base job (fixtures/base-job.yaml:
nodes 2 × gpusPerNode 4 = world 8 = data 4 × context 1 × tensor 2, expert 2, seqLength 128, globalBatchSize 16):
`ok` must be accepted and `bad` rejected with the rule's message (or `message`, when the rule has a
messageExpression). Transition rules (oldSelf) set update=True: the object is created from `before`, then updated.
Rules on metadata.name set `ok_name` / `bad_name` (the other cases get a unique generated name).
test_every_cel_rule_has_a_case fails when the CRD gains a rule that has no case here.

CEL keeps structure and immutability only: the plan rules, arithmetic between fields included (world = data ×
context × tensor, divisibility, batch sizes), have one home, the plan engine, which the admission webhook runs at
apply time (e2e/webhook_tests) and the reconciler on every stored job.

SCHEMA_CASES are the OpenAPI bounds that are not CEL (maximum, maxLength, pattern, maxItems, maxProperties, enum):
one patch each that the apiserver must refuse with the given text (the limits: docs/limits.md).
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
    ok_name: str = ""
    bad_name: str = ""


# The operator's identity env (api TrainerContract.IDENTITY_ENV, in that order).
RESERVED_ENV = (
    "['MASTER_ADDR', 'MASTER_PORT', 'NNODES', 'NODE_RANK', 'NPROC_PER_NODE', 'WORLD_SIZE',"
    " 'MOE_PLAN_PATH', 'MOE_TENSOR_PARALLEL', 'MOE_EXPERT_PARALLEL', 'MOE_CONTEXT_PARALLEL',"
    " 'MOE_DATA_PARALLEL', 'MOE_RESTART_ATTEMPT', 'MOE_JOB_NAME', 'POD_NAME', 'POD_NAMESPACE',"
    " 'PET_NNODES', 'PET_NODE_RANK', 'PET_NPROC_PER_NODE', 'PET_MASTER_ADDR', 'PET_MASTER_PORT']"
)
POD_METADATA_RESERVED = (
    "self.all(k, !(k in ['app.kubernetes.io/managed-by', 'app.kubernetes.io/component'])"
    " && !['training.moe.dev/', 'kueue.x-k8s.io/'].exists(p, k.startsWith(p)))"
)
SECCOMP = "self.type == 'Localhost' ? has(self.localhostProfile) : !has(self.localhostProfile)"
MODEL_MOUNT = "(self.path.lastIndexOf('/') > 0 ? self.path.substring(0, self.path.lastIndexOf('/')) : self.path)"


# Patches are JSON merge patches: None deletes a field of the base job.

CASES: list[Case] = [
    Case(
        id="restart-backoff-bounds",
        path=".spec.restartPolicy",
        rule="!has(self.backoffSeconds) || !has(self.maxBackoffSeconds) || self.maxBackoffSeconds >= self.backoffSeconds",  # noqa: E501
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
    Case(
        id="job-name-at-most-51-characters",
        path="",
        rule="self.metadata.name.size() <= 51",
        ok={},
        ok_name="n" * 51,
        bad={},
        bad_name="n" * 52,  # a valid DNS label, but <name>-a2147483647 (Kueue pod group) would not fit 63
    ),
    Case(
        id="job-name-is-a-dns-1035-label",
        path="",
        rule="self.metadata.name.matches(r'^[a-z]([-a-z0-9]*[a-z0-9])?$')",
        ok={},
        ok_name="cel-dns-1035",
        bad={},
        bad_name="cel.dotted",  # a valid object name (DNS subdomain), not a Service name
    ),
    Case(
        id="world-at-most-8192-gpus",
        path=".spec.resources",
        rule="!has(self.gpusPerNode) || self.nodes * self.gpusPerNode <= 8192",
        # data is left to derive (the base job's data 4 would break the world rule); 8192 exactly is allowed
        ok={"spec": {"resources": {"nodes": 2048, "gpusPerNode": 4}, "parallelism": {"data": None}}},
        bad={"spec": {"resources": {"nodes": 2050, "gpusPerNode": 4}, "parallelism": {"data": None}}},  # 8200
    ),
    Case(
        id="min-learning-rate-at-most-learning-rate",
        path=".spec.training",
        rule="!has(self.minLearningRate) || !has(self.learningRate) || self.minLearningRate <= self.learningRate"
        " || self.minLearningRate == 0.00003",
        ok={"spec": {"training": {"learningRate": 0.00001}}},  # the default minLearningRate 3e-5 passes (a warning)
        bad={"spec": {"training": {"learningRate": 0.001, "minLearningRate": 0.01}}},
    ),
    Case(
        id="warmup-at-most-steps",
        path=".spec.training",
        rule="!has(self.warmupSteps) || !has(self.steps) || self.warmupSteps <= self.steps || self.warmupSteps == 100",
        ok={"spec": {"training": {"steps": 10}}},  # the default warmupSteps 100 passes (a warning)
        bad={"spec": {"training": {"steps": 10, "warmupSteps": 20}}},
    ),
    Case(
        id="tokens-per-micro-batch",
        path=".spec.training",
        rule="!has(self.microBatchSize) || !has(self.seqLength) || self.microBatchSize * self.seqLength <= 4194304",
        ok={"spec": {"training": {"seqLength": 1048576, "microBatchSize": 4, "globalBatchSize": 16}}},
        bad={"spec": {"training": {"seqLength": 1048576, "microBatchSize": 8, "globalBatchSize": 32}}},
    ),
    Case(
        id="model-mount-clashes-with-no-operator-mount",
        path=".spec.model.checkpoint",
        rule=f"!has(self.claimName) || !({MODEL_MOUNT} in ['/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib',"
        " '/lib64', '/opt', '/proc', '/root', '/run', '/sbin', '/sys', '/tmp', '/usr', '/var'] ||"
        f" ['/etc/moe', '/dev/shm', '/checkpoints', '/data', '/etc/moe-pod'].exists(r, {MODEL_MOUNT} == r ||"
        f" {MODEL_MOUNT}.startsWith(r + '/') || r.startsWith({MODEL_MOUNT} + '/')))",
        ok={"spec": {"model": {"checkpoint": {"claimName": "weights", "path": "/models/Qwen3-30B-A3B"}}}},
        bad={"spec": {"model": {"checkpoint": {"claimName": "weights", "path": "/data/Qwen3-30B-A3B"}}}},
    ),
    Case(
        id="nccl-extra-env-names",
        path=".spec.nccl.extraEnv",
        rule="self.all(k, k.size() <= 256 && k.matches(r'^[-._a-zA-Z][-._a-zA-Z0-9]*$') && !(k in "
        + RESERVED_ENV
        + "))",
        ok={"spec": {"nccl": {"extraEnv": {"NCCL_DEBUG": "INFO"}}}},
        bad={"spec": {"nccl": {"extraEnv": {"MASTER_PORT": "1"}}}},
    ),
    Case(
        id="node-selector-keys-are-label-keys",
        path=".spec.placement.nodeSelector",
        rule="self.all(k, k.size() <= 317 && k.matches(r'^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*"
        "[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$'))",
        ok={"spec": {"placement": {"nodeSelector": {"node.kubernetes.io/instance-type": "p5.48xlarge"}}}},
        bad={"spec": {"placement": {"nodeSelector": {"gpu pool": "a"}}}},
    ),
    Case(
        id="toleration-exists-has-no-value",
        path=".spec.placement.tolerations[*]",
        rule="!has(self.operator) || self.operator != 'Exists' || !has(self.value) || self.value == ''",
        ok={"spec": {"placement": {"tolerations": [{"key": "dedicated", "operator": "Exists"}]}}},
        bad={"spec": {"placement": {"tolerations": [{"key": "dedicated", "operator": "Exists", "value": "ml"}]}}},
    ),
    Case(
        id="toleration-without-key-is-exists",
        path=".spec.placement.tolerations[*]",
        rule="(has(self.key) && self.key != '') || (has(self.operator) && self.operator == 'Exists')",
        ok={"spec": {"placement": {"tolerations": [{"operator": "Exists"}]}}},
        bad={"spec": {"placement": {"tolerations": [{"operator": "Equal", "value": "ml"}]}}},
    ),
    Case(
        id="toleration-seconds-only-for-no-execute",
        path=".spec.placement.tolerations[*]",
        rule="!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
        ok={"spec": {"placement": {"tolerations": [{"key": "k", "effect": "NoExecute", "tolerationSeconds": 60}]}}},
        bad={"spec": {"placement": {"tolerations": [{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 60}]}}},
    ),
    Case(
        id="trainer-env-leaves-operator-variables-alone",
        path=".spec.trainer.env[*]",
        rule="!(self.name in " + RESERVED_ENV + ")",
        ok={"spec": {"trainer": {"env": [{"name": "NCCL_DEBUG", "value": "INFO"}]}}},
        bad={"spec": {"trainer": {"env": [{"name": "NODE_RANK", "value": "3"}]}}},
    ),
    Case(
        id="trainer-env-value-or-value-from",
        path=".spec.trainer.env[*]",
        rule="!has(self.valueFrom) || !has(self.value) || self.value == ''",
        ok={
            "spec": {"trainer": {"env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]}}
        },
        bad={
            "spec": {
                "trainer": {
                    "env": [{"name": "NODE", "value": "x", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
                }
            }
        },
    ),
    Case(
        id="trainer-env-value-from-one-source",
        path=".spec.trainer.env[*].valueFrom",
        rule="[has(self.configMapKeyRef), has(self.secretKeyRef), has(self.fieldRef), has(self.resourceFieldRef)]"
        ".filter(x, x).size() == 1",
        ok={
            "spec": {
                "trainer": {"env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}}]}
            }
        },
        bad={
            "spec": {
                "trainer": {
                    "env": [
                        {
                            "name": "TOKEN",
                            "valueFrom": {
                                "secretKeyRef": {"name": "hf", "key": "token"},
                                "fieldRef": {"fieldPath": "metadata.name"},
                            },
                        }
                    ]
                }
            }
        },
    ),
    # lifecycle fields and pod overrides (docs/lifecycle.md)
    Case(
        id="managed-by-immutable",
        path=".spec",
        rule="has(self.managedBy) == has(oldSelf.managedBy) && (!has(self.managedBy)"
        " || self.managedBy == oldSelf.managedBy)",
        update=True,
        before={"spec": {"managedBy": "kueue.x-k8s.io/multikueue"}},
        ok={"spec": {"suspend": True}},
        bad={"spec": {"managedBy": "example.com/other"}},
    ),
    Case(
        id="pod-annotation-keys-are-qualified-names",
        path=".spec.pod.annotations",
        rule="self.all(k, k.size() <= 317 && k.matches(r'^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*"
        "[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$'))",
        ok={"spec": {"pod": {"annotations": {"example.com/note": "x y z"}}}},
        bad={"spec": {"pod": {"annotations": {"a note": "x"}}}},
    ),
    Case(
        id="pod-annotations-not-the-operators",
        path=".spec.pod.annotations",
        rule=POD_METADATA_RESERVED,
        ok={"spec": {"pod": {"annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}}}},
        bad={"spec": {"pod": {"annotations": {"training.moe.dev/progress": "{}"}}}},
    ),
    Case(
        id="pod-label-keys-are-label-keys",
        path=".spec.pod.labels",
        rule="self.all(k, k.size() <= 317 && k.matches(r'^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*"
        "[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$'))",
        ok={"spec": {"pod": {"labels": {"team.example.com/owner": "research"}}}},
        bad={"spec": {"pod": {"labels": {"team owner": "research"}}}},
    ),
    Case(
        id="pod-labels-not-the-operators",
        path=".spec.pod.labels",
        rule=POD_METADATA_RESERVED,
        ok={"spec": {"pod": {"labels": {"app.kubernetes.io/name": "moe"}}}},
        bad={"spec": {"pod": {"labels": {"kueue.x-k8s.io/queue-name": "other"}}}},
    ),
    Case(
        id="pod-seccomp-localhost-profile",
        path=".spec.pod.securityContext.seccompProfile",
        rule=SECCOMP,
        ok={"spec": {"pod": {"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}}}},
        bad={"spec": {"pod": {"securityContext": {"seccompProfile": {"type": "Localhost"}}}}},
    ),
    Case(
        id="trainer-seccomp-localhost-profile",
        path=".spec.trainer.securityContext.seccompProfile",
        rule=SECCOMP,
        ok={
            "spec": {
                "trainer": {"securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}}}
            }
        },
        bad={
            "spec": {
                "trainer": {"securityContext": {"seccompProfile": {"type": "Unconfined", "localhostProfile": "p"}}}
            }
        },
    ),
    Case(
        id="pod-volume-names-unique",
        path=".spec.pod.volumes",
        rule="self.all(v, self.exists_one(w, w.name == v.name))",
        ok={"spec": {"pod": {"volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {}}]}}},
        bad={"spec": {"pod": {"volumes": [{"name": "a", "emptyDir": {}}, {"name": "a", "emptyDir": {}}]}}},
    ),
    Case(
        id="pod-volume-one-source",
        path=".spec.pod.volumes[*]",
        rule="[has(self.configMap), has(self.secret), has(self.persistentVolumeClaim), has(self.emptyDir)]"
        ".filter(x, x).size() == 1",
        ok={"spec": {"pod": {"volumes": [{"name": "creds", "secret": {"secretName": "hf-token"}}]}}},
        bad={"spec": {"pod": {"volumes": [{"name": "two", "emptyDir": {}, "configMap": {"name": "c"}}]}}},
    ),
    Case(
        id="pod-volume-not-an-operator-name",
        path=".spec.pod.volumes[*]",
        rule="!(self.name in ['plan', 'dshm', 'checkpoints', 'model', 'data', 'pod-info'])",
        ok={"spec": {"pod": {"volumes": [{"name": "cache", "emptyDir": {}}]}}},
        bad={"spec": {"pod": {"volumes": [{"name": "dshm", "emptyDir": {}}]}}},
    ),
    Case(
        id="trainer-privileged-escalates",
        path=".spec.trainer.securityContext",
        rule="!(has(self.privileged) && self.privileged && has(self.allowPrivilegeEscalation)"
        " && !self.allowPrivilegeEscalation)",
        ok={"spec": {"trainer": {"securityContext": {"privileged": True}}}},
        bad={"spec": {"trainer": {"securityContext": {"privileged": True, "allowPrivilegeEscalation": False}}}},
    ),
    Case(
        id="trainer-mount-not-an-image-directory",
        path=".spec.trainer.volumeMounts[*]",
        rule="!(self.mountPath in ['/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib64', '/opt', '/proc',"
        " '/root', '/run', '/sbin', '/sys', '/tmp', '/usr', '/var'])",
        ok={"spec": {"trainer": {"volumeMounts": [{"name": "cache", "mountPath": "/var/cache/hf"}]}}},
        bad={"spec": {"trainer": {"volumeMounts": [{"name": "cache", "mountPath": "/tmp"}]}}},
    ),
    Case(
        id="trainer-mount-not-the-operators",
        path=".spec.trainer.volumeMounts[*]",
        rule="['/etc/moe', '/dev/shm', '/checkpoints', '/data', '/etc/moe-pod'].all(m, self.mountPath != m"
        " && !self.mountPath.startsWith(m + '/') && !m.startsWith(self.mountPath + '/'))",
        ok={"spec": {"trainer": {"volumeMounts": [{"name": "cache", "mountPath": "/datasets"}]}}},
        bad={"spec": {"trainer": {"volumeMounts": [{"name": "cache", "mountPath": "/dev/shm/x"}]}}},
    ),
]


@dataclass
class SchemaCase:
    id: str
    bad: dict
    expect: str


SCHEMA_CASES: list[SchemaCase] = [
    SchemaCase(
        "nodes-maximum",
        {"spec": {"resources": {"nodes": 3000000000}}},
        "spec.resources.nodes in body should be less than or equal to 4096",
    ),
    SchemaCase(
        "gpus-per-node-maximum",
        {"spec": {"resources": {"gpusPerNode": 17}}},
        "spec.resources.gpusPerNode in body should be less than or equal to 16",
    ),
    SchemaCase(
        "micro-batch-maximum",
        {"spec": {"training": {"microBatchSize": 1073741824}}},
        "spec.training.microBatchSize in body should be less than or equal to 4096",
    ),
    SchemaCase(
        "seed-beyond-64-bits",
        {"spec": {"training": {"seed": 18446744073709551616}}},
        "spec.training.seed in body must be of type integer",
    ),
    SchemaCase(
        "learning-rate-positive",
        {"spec": {"training": {"learningRate": -0.001}}},
        "spec.training.learningRate in body should be greater than 0",
    ),
    SchemaCase(
        "weight-decay-not-negative",
        {"spec": {"training": {"weightDecay": -0.1}}},
        "spec.training.weightDecay in body should be greater than or equal to 0",
    ),
    SchemaCase(
        "exit-code-range",
        {"spec": {"restartPolicy": {"nonRetryableExitCodes": [75, 300]}}},
        "spec.restartPolicy.nonRetryableExitCodes[1] in body should be less than or equal to 255",
    ),
    SchemaCase(
        "rule-action-enum",
        {"spec": {"restartPolicy": {"rules": [{"reasons": ["Evicted"], "action": "Ignore"}]}}},
        'spec.restartPolicy.rules[0].action: Unsupported value: "Ignore"',
    ),
    SchemaCase(
        "rule-action-required",
        {"spec": {"restartPolicy": {"rules": [{"reasons": ["Evicted"]}]}}},
        "spec.restartPolicy.rules[0].action: Required value",
    ),
    SchemaCase(
        "rule-reason-enum",
        {"spec": {"restartPolicy": {"rules": [{"reasons": ["Sunspots"], "action": "FailJob"}]}}},
        'spec.restartPolicy.rules[0].reasons[0]: Unsupported value: "Sunspots"',
    ),
    SchemaCase(
        "rule-message-length",
        {"spec": {"restartPolicy": {"rules": [{"messageContains": "m" * 257, "action": "FailJob"}]}}},
        "spec.restartPolicy.rules[0].messageContains: Too long: may not be more than 256",
    ),
    SchemaCase(
        "too-many-rules",
        {"spec": {"restartPolicy": {"rules": [{"action": "FailJob"}] * 33}}},
        "spec.restartPolicy.rules: Too many: 33: must have at most 32 items",
    ),
    SchemaCase(
        "progress-deadline-range",
        {"spec": {"restartPolicy": {"progressDeadlineSeconds": 19}}},
        "spec.restartPolicy.progressDeadlineSeconds in body should be greater than or equal to 20",
    ),
    SchemaCase(
        "image-without-spaces",
        {"spec": {"trainer": {"image": "registry.example/moe trainer:1"}}},
        "spec.trainer.image in body should match",
    ),
    SchemaCase(
        "env-name",
        {"spec": {"trainer": {"env": [{"name": "1BAD", "value": "x"}]}}},
        "spec.trainer.env[0].name in body should match",
    ),
    SchemaCase(
        "env-field-path",
        {"spec": {"trainer": {"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels"}}}]}}},
        "spec.trainer.env[0].valueFrom.fieldRef.fieldPath in body should match",
    ),
    SchemaCase(
        "too-many-env",
        {"spec": {"trainer": {"env": [{"name": f"V{i}", "value": "x"} for i in range(65)]}}},
        "Too many: 65: must have at most 64 items",
    ),
    SchemaCase(
        "topology-key",
        {"spec": {"placement": {"topologyKeys": ["rack zone"]}}},
        "spec.placement.topologyKeys[0] in body should match",
    ),
    SchemaCase(
        "node-selector-value",
        {"spec": {"placement": {"nodeSelector": {"pool": "gpu pool"}}}},
        "spec.placement.nodeSelector.pool in body should match",
    ),
    SchemaCase(
        "toleration-operator",
        {"spec": {"placement": {"tolerations": [{"key": "k", "operator": "In"}]}}},
        'Unsupported value: "In"',
    ),
    SchemaCase(
        "toleration-effect",
        {"spec": {"placement": {"tolerations": [{"key": "k", "effect": "NoRun"}]}}},
        'Unsupported value: "NoRun"',
    ),
    SchemaCase(
        "activation-checkpointing-mode",
        {"spec": {"training": {"activationCheckpointing": "partial"}}},
        'Unsupported value: "partial"',
    ),
    # kubectl's YAML reads an unquoted off as false: the API refuses it instead of guessing a mode
    SchemaCase(
        "activation-checkpointing-no-boolean",
        {"spec": {"training": {"activationCheckpointing": False}}},
        ".spec.training.activationCheckpointing: expected string",  # server-side apply's typed-patch message
    ),
    SchemaCase(
        "queue-name", {"spec": {"placement": {"queueName": "Team A"}}}, "spec.placement.queueName in body should match"
    ),
    SchemaCase(
        "gpu-product",
        {"spec": {"resources": {"gpuProduct": "NVIDIA H100"}}},
        "spec.resources.gpuProduct in body should match",
    ),
    SchemaCase(
        "claim-name",
        {"spec": {"training": {"checkpoint": {"claimName": "Ckpt_1"}}}},
        "spec.training.checkpoint.claimName in body should match",
    ),
    SchemaCase(
        "relative-model-path",
        {"spec": {"model": {"checkpoint": {"path": "models/qwen"}}}},
        "spec.model.checkpoint.path in body should match",
    ),
    SchemaCase(
        "dot-dot-dataset-path",
        {"spec": {"training": {"dataset": {"type": "tokens", "path": "/data/../etc"}}}},
        "spec.training.dataset.path in body should match",
    ),
    SchemaCase(
        "model-config-keys",
        {"spec": {"model": {"config": {f"k{i}": 1 for i in range(65)}}}},
        "Too many: 65: must have at most 64 items",
    ),
    SchemaCase("string-length", {"spec": {"trainer": {"args": ["x" * 4097]}}}, "Too long: may not be more than 4096"),
]
