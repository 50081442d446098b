"""The hostile jobs: MoETrainingJobs a careless or malicious user can write, each with the outcome issue 8 demands.

Outcomes:
- REFUSED: `kubectl apply` exits non-zero and the apiserver's message names the field (`spec.resources.nodes`).
  Everything the CRD schema or a CEL rule can say is refused at admission (bounds, patterns, enums, lengths, the
  job name), so a bad job never reaches the operator.
- REPORTED: accepted (only the plan engine or the cluster can tell it is wrong: the model catalog, model-config
  overrides, objects the apiserver refuses to derive), then within a deadline the job's status has a condition
  False whose message names the field and the value (the plan engine's: PlanValid=False, phase Invalid), a
  Warning Event says the same, and no pod of the job exists.

Each case is one job made from base_job() (a valid 1-node × 1-GPU tiny-moe job) by a JSON merge patch of its spec.
Cases come in groups; the suite checks the operator (canary, PID, health, sentinel objects, log) after every group.
A group is one case, except the integer matrix: every integer field of the spec with every hostile value is one
refused job, grouped per field (they never reach the operator, and one check per job would double the suite's run time).

Reason strings of the conditions the operator writes are the lead's contract; they live in REASONS, in one place.
"""

import copy
import json
from dataclasses import dataclass
from dataclasses import field as dc_field

API_VERSION = "training.moe.dev/v1alpha1"
KIND = "MoETrainingJob"

REFUSED = "refused"
REPORTED = "reported"

# Condition types and reasons written by the operator (the contract with the operator's runtime, issue 8).
REASONS = {
    # a spec the plan engine rejects
    "plan_invalid": ("PlanValid", "*"),
    # a spec the operator cannot even deserialise (stored before the CRD had bounds, nesting beyond the parser)
    "spec_unreadable": ("PlanValid", "SpecUnreadable"),
    # a stored number beyond the field's bound (kept whole when read, so the report names the value)
    "value_too_large": ("PlanValid", "ValueTooLarge"),
    # a derived object (ConfigMap, Service, ServiceAccount, Role, RoleBinding, Pod) exists without this job's
    # controller owner reference
    "not_owned": ("DependentsReady", "ObjectNotOwned"),
    # the apiserver refused (4xx) a derived object
    "derived_refused": ("DependentsReady", "ApiRejected"),
    # gangs that cannot start
    "unschedulable": ("GangScheduled", "Unschedulable"),
    "no_node_fits": ("GangScheduled", "NoNodeFits"),
    # the pod is bound, its container cannot start: on the Running condition
    "image_pull_failed": ("Running", "ImagePullFailed"),
}

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def base_job(name):
    """A valid job: tiny-moe on 1 node × 1 GPU, plans in microseconds, one pod."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name},
        "spec": {
            "model": {"preset": "tiny-moe"},
            "parallelism": {"tensor": 1, "expert": 1},
            "resources": {"nodes": 1, "gpusPerNode": 1},
            "training": {
                "seqLength": 64,
                "microBatchSize": 1,
                "globalBatchSize": 1,
                "steps": 20,
                "warmupSteps": 2,
                "learningRate": 0.001,
                "minLearningRate": 0.0001,
            },
            "restartPolicy": {"maxRestarts": 1, "backoffSeconds": 1, "maxBackoffSeconds": 2},
        },
    }


def merge(base, patch):
    """JSON merge patch (RFC 7386): dicts merge, None deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(base) if isinstance(base, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge(out.get(k), v)
    return out


def nested(path, value):
    """{"a": {"b": value}} for path "a.b"."""
    for part in reversed(path.split(".")):
        value = {part: value}
    return value


# A JSON text too deep to build with json.dumps (recursion limit): the placeholder is replaced in the text.
DEEP_PLACEHOLDER = "__hostile_deep_nesting__"


def deep_object(levels):
    return '{"a":' * levels + "1" + "}" * levels


@dataclass
class Case:
    id: str  # unique; the job's name unless name is set
    klass: str  # the class of issue 8 it belongs to
    patch: dict  # merge patch onto the spec of base_job(name)
    outcome: str  # REFUSED or REPORTED
    field: str  # must appear in the apiserver's message / the condition and the Event
    value: str = None  # REPORTED: must appear in the condition's message too
    reason: str = "plan_invalid"  # REPORTED: key of REASONS
    name: str = None  # metadata.name when the name itself is the hostile part
    deep: int = 0  # levels of nesting that replace DEEP_PLACEHOLDER in the JSON text
    why: str = ""

    @property
    def job_name(self):
        return self.name or self.id

    def manifest(self):
        """The JSON text kubectl applies."""
        obj = base_job(self.job_name)
        obj["spec"] = merge(obj["spec"], self.patch)
        text = json.dumps(obj)
        if self.deep:
            text = text.replace(json.dumps(DEEP_PLACEHOLDER), deep_object(self.deep))
        return text


@dataclass
class Group:
    id: str
    cases: list = dc_field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------------
# 1. Boundary integers in every integer field of the spec (refused: every integer has a minimum and a maximum)
# ---------------------------------------------------------------------------------------------------------------
# spec path -> its minimum; the hostile values are below the minimum and the 32/64-bit boundaries above any
# maximum sized to reality.
INTEGER_FIELDS = {
    "parallelism.tensor": 1,
    "parallelism.expert": 1,
    "parallelism.context": 1,
    "parallelism.data": 1,
    "resources.nodes": 1,
    "resources.gpusPerNode": 1,
    "resources.gpuMemoryGiB": 1,
    "training.seqLength": 1,
    "training.microBatchSize": 1,
    "training.globalBatchSize": 1,
    "training.steps": 1,
    "training.warmupSteps": 0,
    "training.checkpoint.everySteps": 1,
    "restartPolicy.maxRestarts": 0,
    "restartPolicy.backoffSeconds": 0,
    "restartPolicy.maxBackoffSeconds": 0,
    "restartPolicy.gangSchedulingTimeoutSeconds": 1,
    "activeDeadlineSeconds": 1,
    "ttlSecondsAfterFinished": 0,
}
ABOVE_ANY_MAXIMUM = [INT32_MAX, 2**31, 3_000_000_000, INT64_MAX]


def _int_case(path, value, index=""):
    patch = nested(path, [value] if index else value)
    if path.startswith("training.checkpoint."):
        patch = merge(patch, {"training": {"checkpoint": {"claimName": "ckpt"}}})
    slug = path.split(".")[-1].lower()
    tag = {
        -1: "neg1",
        0: "zero",
        INT32_MAX: "i32max",
        2**31: "i32over",
        3_000_000_000: "3e9",
        INT64_MAX: "i64max",
        2**63: "i64over",
        256: "256",
    }[value]
    return Case(
        f"int-{slug}-{tag}",
        "boundary integer",
        patch,
        REFUSED,
        f"spec.{path}{index}",
        why=f"spec.{path}{index}={value} is outside any sane range",
    )


def _integer_matrix():
    groups = []
    for path, minimum in INTEGER_FIELDS.items():
        below = [0, -1] if minimum == 1 else [-1]
        groups.append(Group(f"int-{path}", [_int_case(path, v) for v in below + ABOVE_ANY_MAXIMUM]))
    # seed: any int64 may be a valid seed, but not a negative one (the trainer refuses it) nor one beyond int64
    groups.append(Group("int-training.seed", [_int_case("training.seed", v) for v in (-1, 2**63)]))
    # exit codes are 0..255
    groups.append(
        Group(
            "int-restartPolicy.nonRetryableExitCodes",
            [_int_case("restartPolicy.nonRetryableExitCodes", v, "[0]") for v in [-1, 256] + ABOVE_ANY_MAXIMUM],
        )
    )
    return groups


# ---------------------------------------------------------------------------------------------------------------
# 2. Everything else: one case per group
# ---------------------------------------------------------------------------------------------------------------
def _c(id, klass, patch, outcome, field, **kw):
    return Case(id, klass, patch, outcome, field, **kw)


MOUNT = "mount path"
MODEL = "model override"
SINGLE_CASES = [
    # products that overflow 32 bits, and sizes the arithmetic of the plan cannot survive
    _c(
        "ovf-world-536870913x8",
        "32-bit overflow",
        {"resources": {"nodes": 536870913, "gpusPerNode": 8}},
        REFUSED,
        "spec.resources.nodes",
        why="536870913 × 8 wraps to 8 in 32 bits (was planned as world 8)",
    ),
    _c(
        "ovf-world-536870912x8",
        "32-bit overflow",
        {"resources": {"nodes": 536870912, "gpusPerNode": 8}},
        REFUSED,
        "spec.resources.nodes",
        why="536870912 × 8 wraps to 0 (was a / by zero retry loop)",
    ),
    _c(
        "ovf-micro-batch-2e30",
        "32-bit overflow",
        {"training": {"microBatchSize": 1073741824}},
        REFUSED,
        "spec.training.microBatchSize",
        why="microBatchSize × data wrapped to 0 (/ by zero)",
    ),
    _c(
        "ovf-nodes-1e9",
        "32-bit overflow",
        {"resources": {"nodes": 1_000_000_000}},
        REFUSED,
        "spec.resources.nodes",
        why="the rank layout of 1e9 nodes was allocated up front (OOM)",
    ),
    _c(
        "ovf-world-beyond-fleet-max",
        "32-bit overflow",
        {"resources": {"nodes": 4096, "gpusPerNode": 64}},
        REFUSED,
        "resources.",
        why="each factor may be in range, the world (262,144 GPUs) is not: refused by the bound of a factor "
        "(spec.resources.nodes / .gpusPerNode) or by a rule on resources.nodes × resources.gpusPerNode",
    ),
    # model overrides (spec.model.config is free-form: only the plan engine can judge it)
    _c(
        "cfg-layers-i32max",
        MODEL,
        {"model": {"config": {"numHiddenLayers": INT32_MAX}}},
        REPORTED,
        "spec.model.config.numHiddenLayers",
        value=str(INT32_MAX),
        why="the parameter count looped for ever",
    ),
    _c(
        "cfg-experts-zero",
        MODEL,
        {"model": {"config": {"numExperts": 0}}},
        REPORTED,
        "spec.model.config.numExperts",
        value="0",
    ),
    _c(
        "cfg-topk-above-experts",
        MODEL,
        {"model": {"config": {"numExperts": 8, "numExpertsPerTok": 9}}},
        REPORTED,
        "spec.model.config.numExpertsPerTok",
        value="9",
    ),
    _c(
        "cfg-layers-string",
        MODEL,
        {"model": {"config": {"numHiddenLayers": "48"}}},
        REPORTED,
        "spec.model.config.numHiddenLayers",
        value="48",
    ),
    _c(
        "cfg-hidden-fraction",
        MODEL,
        {"model": {"config": {"hiddenSize": 64.5}}},
        REPORTED,
        "spec.model.config.hiddenSize",
        value="64.5",
    ),
    _c(
        "cfg-vocab-3e9",
        MODEL,
        {"model": {"config": {"vocabSize": 3_000_000_000}}},
        REPORTED,
        "spec.model.config.vocabSize",
        value="3000000000",
    ),
    _c(
        "cfg-hidden-i64max",
        MODEL,
        {"model": {"config": {"hiddenSize": INT64_MAX}}},
        REPORTED,
        "spec.model.config.hiddenSize",
        value=str(INT64_MAX),
    ),
    _c(
        "cfg-heads-i32over",
        MODEL,
        {"model": {"config": {"numAttentionHeads": 2**31}}},
        REPORTED,
        "spec.model.config.numAttentionHeads",
        value=str(2**31),
    ),
    _c(
        "cfg-layers-beyond-int64",
        MODEL,
        {"model": {"config": {"numHiddenLayers": 10**30}}},
        REPORTED,
        "spec.model.config.numHiddenLayers",
        why="the apiserver keeps 1e30 as a float",
    ),
    _c(
        "cfg-sparse-step-zero",
        MODEL,
        {"model": {"config": {"decoderSparseStep": 0}}},
        REPORTED,
        "spec.model.config.decoderSparseStep",
        value="0",
        why="(layer + 1) % 0",
    ),
    _c(
        "cfg-unknown-key",
        MODEL,
        {"model": {"config": {"numExpertz": 8}}},
        REPORTED,
        "spec.model.config.numExpertz",
        value="8",
    ),
    _c(
        "cfg-not-an-object",
        MODEL,
        {"model": {"config": [1, 2, 3]}},
        REFUSED,
        "spec.model.config",
        why="the schema can say config is a map",
    ),
    _c(
        "cfg-nesting-50",
        MODEL,
        {"model": {"config": {"hiddenSize": DEEP_PLACEHOLDER}}},
        REPORTED,
        "spec.model.config.hiddenSize",
        deep=50,
        why="an object where an integer belongs",
    ),
    _c(
        "cfg-nesting-2000",
        MODEL,
        {"model": {"config": {"hiddenSize": DEEP_PLACEHOLDER}}},
        REPORTED,
        "spec.model.config",
        deep=2000,
        why="beyond Jackson's 1000-level nesting limit: the job watch stopped for every job",
    ),
    _c(
        "cfg-nesting-9990",
        MODEL,
        {"model": {"config": {"hiddenSize": DEEP_PLACEHOLDER}}},
        REPORTED,
        "spec.model.config",
        deep=9990,
        why="as deep as the API server's JSON decoder allows (10,000): the client converted watch events recursively",
    ),
    _c(
        "cfg-huge-string",
        MODEL,
        {"model": {"config": {"hiddenAct": "x" * 200_000}}},
        REPORTED,
        "spec.model.config.hiddenAct",
        why="a 200 kB activation name the trainer cannot know",
    ),
    _c(
        "preset-unknown", "unknown preset", {"model": {"preset": "gpt-5"}}, REPORTED, "spec.model.preset", value="gpt-5"
    ),
    _c("preset-huge", "huge string", {"model": {"preset": "p" * 100_000}}, REFUSED, "spec.model.preset"),
    _c(
        "plan-expert-divides-experts",
        "plan rule",
        {"parallelism": {"expert": 3}, "resources": {"nodes": 3}, "training": {"globalBatchSize": 3}},
        REPORTED,
        "spec.parallelism.expert",
        value="3",
        why="baseline: a rule only the engine has (was context=2, refused until the trainer had context parallelism)",
    ),
    # nonsense numbers
    _c(
        "num-lr-negative",
        "nonsense number",
        {"training": {"learningRate": -0.001}},
        REFUSED,
        "spec.training.learningRate",
    ),
    _c(
        "num-min-lr-negative",
        "nonsense number",
        {"training": {"minLearningRate": -1}},
        REFUSED,
        "spec.training.minLearningRate",
    ),
    _c(
        "num-min-lr-above-lr",
        "nonsense number",
        {"training": {"learningRate": 0.001, "minLearningRate": 0.01}},
        REFUSED,
        "minLearningRate",
    ),
    _c(
        "num-warmup-above-steps",
        "nonsense number",
        {"training": {"steps": 20, "warmupSteps": 500}},
        REFUSED,
        "warmupSteps",
    ),
    _c(
        "num-weight-decay-negative",
        "nonsense number",
        {"training": {"weightDecay": -0.1}},
        REFUSED,
        "spec.training.weightDecay",
    ),
    _c("num-grad-clip-negative", "nonsense number", {"training": {"gradClip": -1}}, REFUSED, "spec.training.gradClip"),
    # wrong JSON types in the typed part of the spec
    _c("type-nodes-string", "wrong JSON type", {"resources": {"nodes": "8"}}, REFUSED, "spec.resources.nodes"),
    _c("type-nodes-fraction", "wrong JSON type", {"resources": {"nodes": 1.5}}, REFUSED, "spec.resources.nodes"),
    _c("type-parallelism-string", "wrong JSON type", {"parallelism": "tp=2"}, REFUSED, "spec.parallelism"),
    _c("type-suspend-string", "wrong JSON type", {"suspend": "yes"}, REFUSED, "spec.suspend"),
    # names: every derived name, label and hostname must fit (pods <job>-node-<rank> with hostname = pod name and
    # subdomain = Service <job>, ConfigMap <job>-plan, <job>-trainer, label training.moe.dev/job=<job>)
    _c("name-64", "job name", {}, REFUSED, "metadata.name", name="n" * 64),
    _c(
        "name-57",
        "job name",
        {},
        REFUSED,
        "metadata.name",
        name="n" * 57,
        why="<job>-node-0 is 64 characters, one more than a hostname may have",
    ),
    _c(
        "name-56-100-nodes",
        "job name",
        {"resources": {"nodes": 100}},
        REFUSED,
        "metadata.name",
        name="n" * 56,
        why="<job>-node-99 is 64 characters",
    ),
    _c("name-253", "job name", {}, REFUSED, "metadata.name", name="n" * 253),
    _c(
        "name-dots",
        "job name",
        {},
        REFUSED,
        "metadata.name",
        name="hostile.dotted.name",
        why="a Service name and a hostname cannot contain dots",
    ),
    _c(
        "name-leading-digit",
        "job name",
        {},
        REFUSED,
        "metadata.name",
        name="9lives",
        why="a Service name must start with a letter (DNS-1035)",
    ),
    _c(
        "name-uppercase",
        "job name",
        {},
        REFUSED,
        "metadata.name",
        name="Hostile",
        why="baseline: the apiserver refuses it for any object",
    ),
    # mount paths: the model claim is mounted at the parent of spec.model.checkpoint.path
    _c(
        "mount-relative",
        MOUNT,
        {"model": {"checkpoint": {"claimName": "weights", "path": "models/qwen"}}},
        REFUSED,
        "spec.model.checkpoint.path",
    ),
    _c(
        "mount-etc-moe",
        MOUNT,
        {"model": {"checkpoint": {"claimName": "weights", "path": "/etc/moe/qwen"}}},
        REFUSED,
        "model.checkpoint.path",
        why="would shadow the plan mount /etc/moe",
    ),
    _c(
        "mount-dev-shm",
        MOUNT,
        {"model": {"checkpoint": {"claimName": "weights", "path": "/dev/shm/qwen"}}},
        REFUSED,
        "model.checkpoint.path",
    ),
    _c(
        "mount-checkpoints",
        MOUNT,
        {
            "model": {"checkpoint": {"claimName": "weights", "path": "/checkpoints/m"}},
            "training": {"checkpoint": {"claimName": "ckpt"}},
        },
        REFUSED,
        "model.checkpoint.path",
    ),
    _c(
        "mount-data",
        MOUNT,
        {
            "model": {"checkpoint": {"claimName": "weights", "path": "/data/qwen"}},
            "training": {"dataset": {"type": "tokens", "claimName": "tokens", "path": "/data/tokens.bin"}},
        },
        REFUSED,
        "model.checkpoint.path",
    ),
    _c(
        "mount-dotdot",
        MOUNT,
        {"model": {"checkpoint": {"claimName": "weights", "path": "/models/../etc/moe/qwen"}}},
        REFUSED,
        "spec.model.checkpoint.path",
        why="not normalised: resolves into /etc/moe",
    ),
    _c(
        "mount-root",
        MOUNT,
        {"model": {"checkpoint": {"claimName": "weights", "path": "/"}}},
        REFUSED,
        "spec.model.checkpoint.path",
    ),
    # claim names become PersistentVolumeClaim references of the pods (DNS-1123 subdomains)
    _c(
        "claim-checkpoint-invalid",
        "claim name",
        {"training": {"checkpoint": {"claimName": "not a claim!"}}},
        REFUSED,
        "spec.training.checkpoint.claimName",
    ),
    _c(
        "claim-model-invalid",
        "claim name",
        {"model": {"checkpoint": {"claimName": "Weights_1", "path": "/models/qwen"}}},
        REFUSED,
        "spec.model.checkpoint.claimName",
    ),
    _c(
        "claim-dataset-invalid",
        "claim name",
        {"training": {"dataset": {"type": "tokens", "claimName": "a/b", "path": "/data/tokens.bin"}}},
        REFUSED,
        "spec.training.dataset.claimName",
    ),
    # placement: topology keys, node selector, tolerations, queue
    _c(
        "topo-key-spaces",
        "topology key",
        {"placement": {"topologyKeys": ["not a key"]}},
        REFUSED,
        "spec.placement.topologyKeys",
    ),
    _c(
        "topo-key-two-slashes",
        "topology key",
        {"placement": {"topologyKeys": ["a/b/c"]}},
        REFUSED,
        "spec.placement.topologyKeys",
    ),
    _c("topo-key-empty", "topology key", {"placement": {"topologyKeys": [""]}}, REFUSED, "spec.placement.topologyKeys"),
    _c(
        "topo-key-name-too-long",
        "topology key",
        {"placement": {"topologyKeys": ["example.com/" + "k" * 64]}},
        REFUSED,
        "spec.placement.topologyKeys",
    ),
    _c(
        "nodesel-key-invalid",
        "node selector",
        {"placement": {"nodeSelector": {"bad key": "x"}}},
        REFUSED,
        "spec.placement.nodeSelector",
    ),
    _c(
        "nodesel-value-invalid",
        "node selector",
        {"placement": {"nodeSelector": {"pool": "has spaces"}}},
        REFUSED,
        "spec.placement.nodeSelector",
    ),
    _c(
        "nodesel-value-too-long",
        "node selector",
        {"placement": {"nodeSelector": {"pool": "v" * 64}}},
        REFUSED,
        "spec.placement.nodeSelector",
    ),
    _c(
        "gpu-product-invalid",
        "node selector",
        {"resources": {"gpuProduct": "H100 80GB"}},
        REFUSED,
        "spec.resources.gpuProduct",
        why="becomes the nvidia.com/gpu.product node selector value",
    ),
    _c(
        "tol-operator",
        "toleration",
        {"placement": {"tolerations": [{"key": "k", "operator": "Maybe"}]}},
        REFUSED,
        "spec.placement.tolerations[0].operator",
    ),
    _c(
        "tol-effect",
        "toleration",
        {"placement": {"tolerations": [{"key": "k", "operator": "Exists", "effect": "Sometimes"}]}},
        REFUSED,
        "spec.placement.tolerations[0].effect",
    ),
    _c(
        "tol-exists-with-value",
        "toleration",
        {"placement": {"tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]}},
        REFUSED,
        "spec.placement.tolerations[0]",
    ),
    _c(
        "tol-key-invalid",
        "toleration",
        {"placement": {"tolerations": [{"key": "bad key", "operator": "Exists"}]}},
        REFUSED,
        "spec.placement.tolerations[0].key",
    ),
    _c(
        "tol-seconds-i64max",
        "toleration",
        {
            "placement": {
                "tolerations": [
                    {"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": INT64_MAX}
                ]
            }
        },
        REFUSED,
        "spec.placement.tolerations[0].tolerationSeconds",
    ),
    _c(
        "queue-name-invalid",
        "label value",
        {"placement": {"queueName": "not a queue!"}},
        REFUSED,
        "spec.placement.queueName",
        why="becomes the kueue.x-k8s.io/queue-name label value",
    ),
    # env names, and env overriding the operator's identity variables
    _c(
        "env-name-equals",
        "env name",
        {"trainer": {"env": [{"name": "A=B", "value": "1"}]}},
        REFUSED,
        "spec.trainer.env[0].name",
    ),
    _c(
        "env-name-empty",
        "env name",
        {"trainer": {"env": [{"name": "", "value": "1"}]}},
        REFUSED,
        "spec.trainer.env[0].name",
    ),
    _c(
        "env-name-non-ascii",
        "env name",
        {"trainer": {"env": [{"name": "ÜBER", "value": "1"}]}},
        REFUSED,
        "spec.trainer.env[0].name",
    ),
    _c(
        "env-identity-master-addr",
        "env name",
        {"trainer": {"env": [{"name": "MASTER_ADDR", "value": "evil"}]}},
        REFUSED,
        "spec.trainer.env[0]",
        why="today silently dropped; the user must learn it is reserved",
    ),
    _c(
        "env-identity-world-size",
        "env name",
        {"trainer": {"env": [{"name": "WORLD_SIZE", "value": "1"}]}},
        REFUSED,
        "spec.trainer.env[0]",
    ),
    _c("nccl-env-name-invalid", "env name", {"nccl": {"extraEnv": {"BAD=KEY": "1"}}}, REFUSED, "spec.nccl.extraEnv"),
    _c("nccl-env-identity", "env name", {"nccl": {"extraEnv": {"MASTER_PORT": "1"}}}, REFUSED, "spec.nccl.extraEnv"),
    _c(
        "env-fieldref-unknown",
        "env name",
        {"trainer": {"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "status.bogus"}}}]}},
        REFUSED,
        "spec.trainer.env[0].valueFrom.fieldRef.fieldPath",
        why="the pod API supports a few field paths",
    ),
    _c(
        "env-divisor-invalid",
        "env name",
        {
            "trainer": {
                "env": [{"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "7"}}}]
            }
        },
        REPORTED,
        "spec.trainer.env[0].valueFrom.resourceFieldRef.divisor",
        value="7",
        why="the pod API takes only 1 and 1m for cpu; a quantity rule the schema cannot say",
    ),
    _c(
        "env-value-and-value-from",
        "env name",
        {"trainer": {"env": [{"name": "X", "value": "v", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}},
        REFUSED,
        "spec.trainer.env[0]",
        why="a pod may not have both",
    ),
    # images
    _c(
        "image-inner-space",
        "image",
        {"trainer": {"image": "ghcr.io/x/trainer:1 --privileged"}},
        REFUSED,
        "spec.trainer.image",
    ),
    _c("image-trailing-space", "image", {"trainer": {"image": "ghcr.io/x/trainer:1 "}}, REFUSED, "spec.trainer.image"),
    _c("image-newline", "image", {"trainer": {"image": "ghcr.io/x/trainer:1\nevil"}}, REFUSED, "spec.trainer.image"),
    _c("image-huge", "huge string", {"trainer": {"image": "i" * 100_000}}, REFUSED, "spec.trainer.image"),
    # huge lists and strings
    _c(
        "env-5000-entries",
        "huge list",
        {"trainer": {"env": [{"name": f"V{i}", "value": "1"} for i in range(5000)]}},
        REFUSED,
        "spec.trainer.env",
    ),
    _c("args-20000-entries", "huge list", {"trainer": {"args": ["--x"] * 20000}}, REFUSED, "spec.trainer.args"),
    _c(
        "topology-keys-1000",
        "huge list",
        {"placement": {"topologyKeys": [f"example.com/k{i}" for i in range(1000)]}},
        REFUSED,
        "spec.placement.topologyKeys",
    ),
    _c(
        "command-huge-string", "huge string", {"trainer": {"command": ["c" * 200_000]}}, REFUSED, "spec.trainer.command"
    ),
]

# ---------------------------------------------------------------------------------------------------------------
# 3. Status garbage: a user with access to the status subresource writes nonsense into a running job's status
# ---------------------------------------------------------------------------------------------------------------
TOLERATED = "tolerated"  # accepted; the operator keeps reconciling the job (and every other one)


@dataclass
class StatusCase:
    id: str
    status: dict  # merge patch of .status, through the status subresource
    outcome: str  # REFUSED (the field named) or TOLERATED
    field: str = None


STATUS_CASES = [
    StatusCase("st-phase-bogus", {"phase": "Bogus"}, REFUSED, "status.phase"),
    StatusCase("st-restart-attempt-negative", {"restartAttempt": -5}, REFUSED, "status.restartAttempt"),
    StatusCase("st-restart-attempt-3e9", {"restartAttempt": 3_000_000_000}, REFUSED, "status.restartAttempt"),
    StatusCase("st-restarts-i64max", {"restarts": INT64_MAX}, REFUSED, "status.restarts"),
    StatusCase("st-world-i32over", {"plan": {"worldSize": 2**31}}, REFUSED, "status.plan.worldSize"),
    StatusCase(
        "st-exit-code-i32over",
        {"lastFailure": {"reason": "ExitCode", "exitCode": 2**31}},
        REFUSED,
        "status.lastFailure.exitCode",
    ),
    StatusCase(
        "st-history-11",
        {"restartHistory": [{"reason": "ExitCode", "attempt": i} for i in range(11)]},
        REFUSED,
        "status.restartHistory",
    ),
    StatusCase(
        "st-conditions-garbage",
        {
            "conditions": [
                {"type": "PlanValid", "status": "Maybe", "reason": "UserWasHere", "message": "x" * 10_000},
                {"type": "NotOurs", "status": "True"},
            ]
        },
        TOLERATED,
    ),
    StatusCase("st-observed-generation-i64max", {"observedGeneration": INT64_MAX}, TOLERATED),
]

# ---------------------------------------------------------------------------------------------------------------
# 4. Ownership (data loss): the user already has objects with the names the operator derives for job `victim`
# ---------------------------------------------------------------------------------------------------------------
VICTIM = "victim"


def _user(kind, name, **body):
    api = "rbac.authorization.k8s.io/v1" if kind in ("Role", "RoleBinding") else "v1"
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "labels": {"owner": "user"}}, **body}


USER_CONFIGMAP = _user("ConfigMap", f"{VICTIM}-plan", data={"settings.json": '{"mine": true}'})
USER_ENV_CONFIGMAP = _user("ConfigMap", f"{VICTIM}-trainer-env", data={"MY_SETTING": "1"})
USER_SERVICE = _user("Service", VICTIM, spec={"selector": {"app": "user-web"}, "ports": [{"port": 80}]})
USER_SERVICE_ACCOUNT = _user("ServiceAccount", f"{VICTIM}-trainer")
USER_ROLE = _user("Role", f"{VICTIM}-trainer", rules=[{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}])
USER_ROLE_BINDING = _user(
    "RoleBinding",
    f"{VICTIM}-trainer",
    roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
    subjects=[{"kind": "User", "name": "alice"}],
)


def _user_pod(labels):
    pod = _user("Pod", f"{VICTIM}-node-0", spec={"containers": [{"name": "app", "image": "registry.example/app:1"}]})
    pod["metadata"]["labels"].update(labels)
    # Running until deleted (KWOK would complete a pod labelled training.moe.dev/job after 10 s)
    pod["metadata"]["annotations"] = {"e2e.moe.dev/hold": "true"}
    return pod


OWNERSHIP_CASES = {
    "own-configmap": [USER_CONFIGMAP],
    "own-env-configmap": [USER_ENV_CONFIGMAP],
    "own-service": [USER_SERVICE],
    "own-serviceaccount": [USER_SERVICE_ACCOUNT],
    "own-role": [USER_ROLE],
    "own-rolebinding": [USER_ROLE_BINDING],
    "own-pod-unlabelled": [_user_pod({})],
    "own-pod-labelled": [_user_pod({"training.moe.dev/job": VICTIM})],
    "own-everything": [
        USER_CONFIGMAP,
        USER_ENV_CONFIGMAP,
        USER_SERVICE,
        USER_SERVICE_ACCOUNT,
        USER_ROLE,
        USER_ROLE_BINDING,
        _user_pod({"training.moe.dev/job": VICTIM}),
    ],
}


# ---------------------------------------------------------------------------------------------------------------
# 5. Gangs that can never start: the reason must reach status (deliverable 4)
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class GangCase:
    id: str
    patch: dict  # merge patch of the spec
    reason: str  # key of REASONS
    mentions: str  # the condition's message and the Event name it (copied from the pod)


GANG_CASES = [
    GangCase(
        "gang-missing-claim",
        {"training": {"checkpoint": {"claimName": "no-such-claim"}}},
        "unschedulable",
        "no-such-claim",
    ),
    GangCase(
        "gang-16-gpus-per-node",
        {"resources": {"gpusPerNode": 16}, "training": {"globalBatchSize": 16}},
        "no_node_fits",
        "nvidia.com/gpu",
    ),
    GangCase(
        "gang-image-pull", {"trainer": {"image": "e2e.invalid/trainer:0"}}, "image_pull_failed", "e2e.invalid/trainer:0"
    ),
    # The operator may list nodes (the chart's ClusterRole): no node has the product, so no node can ever fit.
    GangCase(
        "gang-no-such-gpu", {"resources": {"gpuProduct": "NVIDIA-B300-288GB"}}, "no_node_fits", "NVIDIA-B300-288GB"
    ),
]


# ---------------------------------------------------------------------------------------------------------------
# 6. The namespace refuses a derived object (quota): no spec rule can know it; the apiserver's 403 must reach status
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class QuotaCase:
    id: str  # also the job's name
    hard: dict  # ResourceQuota spec.hard in the job's namespace
    # the derived objects the apiserver refuses; the condition and the Event name one of them (the workflow writes
    # the job's two ConfigMaps side by side, so either may be refused first)
    refused_objects: tuple


QUOTA_CASES = [
    QuotaCase("quota-pods", {"pods": "0"}, ("quota-pods-node-0",)),
    # kube-root-ca.crt already uses the one ConfigMap allowed
    QuotaCase("quota-configmaps", {"count/configmaps": "1"}, ("quota-configmaps-plan", "quota-configmaps-trainer-env")),
]
QUOTA_MESSAGE = "exceeded quota"

# Pod overrides (spec.pod, spec.trainer.volumeMounts): what collides with the operator's own labels, volumes and
# mounts is refused by CEL where the schema can say it, reported with no pods where only the plan engine can.
_CACHE = {"name": "cache", "emptyDir": {}}
OVERRIDE_CASES = [
    _c(
        "ovr-volume-named-plan",
        "pod override",
        {"pod": {"volumes": [{"name": "plan", "emptyDir": {}}]}},
        REFUSED,
        "spec.pod.volumes",
        why="plan is the operator's plan ConfigMap volume",
    ),
    _c(
        "ovr-volume-hostpath",
        "pod override",
        {"pod": {"volumes": [{"name": "root", "hostPath": {"path": "/"}}]}},
        REFUSED,
        "spec.pod.volumes",
        why="only configMap, secret, persistentVolumeClaim and emptyDir volumes are supported",
    ),
    _c(
        "ovr-label-job",
        "pod override",
        {"pod": {"labels": {"training.moe.dev/job": "someone-else"}}},
        REFUSED,
        "spec.pod.labels",
        why="would move the pods into another job's gang",
    ),
    _c(
        "ovr-annotation-kueue",
        "pod override",
        {"pod": {"annotations": {"kueue.x-k8s.io/pod-group-total-count": "1"}}},
        REFUSED,
        "spec.pod.annotations",
        why="would shrink the Kueue pod group to one pod",
    ),
    _c(
        "ovr-annotations-10000",
        "huge map",
        {"pod": {"annotations": {f"k{i}": "v" for i in range(10000)}}},
        REFUSED,
        "spec.pod.annotations",
    ),
    _c(
        "ovr-mount-into-data",
        "pod override",
        {"pod": {"volumes": [_CACHE]}, "trainer": {"volumeMounts": [{"name": "cache", "mountPath": "/data/x"}]}},
        REFUSED,
        "spec.trainer.volumeMounts",
        why="would lie inside the operator's dataset mount",
    ),
    _c(
        "ovr-mount-on-model-claim",
        "pod override",
        {
            "model": {"checkpoint": {"claimName": "weights", "path": "/models/tiny"}},
            "pod": {"volumes": [_CACHE]},
            "trainer": {"volumeMounts": [{"name": "cache", "mountPath": "/models"}]},
        },
        REPORTED,
        "spec.trainer.volumeMounts[0].mountPath",
        value="/models",
        why="the model claim's mount depends on spec.model.checkpoint.path: only the plan engine can tell",
    ),
    _c(
        "ovr-mount-of-no-volume",
        "pod override",
        {"trainer": {"volumeMounts": [{"name": "missing", "mountPath": "/mnt/x"}]}},
        REPORTED,
        "spec.trainer.volumeMounts[0].name",
        value="missing",
    ),
    _c(
        "ovr-request-over-limit",
        "pod override",
        {"trainer": {"resources": {"requests": {"memory": "128Gi"}, "limits": {"memory": "64Gi"}}}},
        REPORTED,
        "spec.trainer.resources.requests.memory",
        value="128Gi",
    ),
    _c(
        "ovr-managed-by-spaces",
        "pod override",
        {"managedBy": "not a controller"},
        REFUSED,
        "spec.managedBy",
    ),
]

GROUPS = _integer_matrix() + [Group(c.id, [c]) for c in SINGLE_CASES + OVERRIDE_CASES]
CASES = [c for g in GROUPS for c in g.cases]


def _check_table():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    names = [c.job_name for c in CASES]
    assert len(names) == len(set(names)), "job names must be unique (one namespace)"
    for c in CASES:
        assert c.outcome in (REFUSED, REPORTED), c
        assert c.reason in REASONS, c
    for c in GANG_CASES:
        assert c.reason in REASONS, c
    for c in STATUS_CASES:
        assert c.outcome in (REFUSED, TOLERATED) and (c.field or c.outcome == TOLERATED), c


_check_table()
