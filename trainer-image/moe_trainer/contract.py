"""The names and numbers the trainer shares with the operator (docs/contract.md sections 1-4), in one place.

Each value equals the constant of the same name in the operator's ``TrainerContract`` (api module); the build
writes those to ``contract/trainer-contract.json`` and tests/test_contract.py checks this module against it, so
neither side can rename an env variable or renumber an exit code alone. The rest of the trainer reads the
operator's names only through this module (the test also scans the sources for stray literals).
"""

PLAN_API_VERSION = "training.moe.dev/plan-v1"

# Section 1: what a plan's dataset may be (the CRD enums TrainingSpec.DatasetType / TokenDtype).
DATASET_TYPES = ("synthetic", "tokens")
TOKEN_DTYPES = ("uint16", "uint32")

# Section 2: the pod environment the operator sets.
WORLD_SIZE = "WORLD_SIZE"
MOE_PLAN_PATH = "MOE_PLAN_PATH"
MOE_TENSOR_PARALLEL = "MOE_TENSOR_PARALLEL"
MOE_EXPERT_PARALLEL = "MOE_EXPERT_PARALLEL"
MOE_CONTEXT_PARALLEL = "MOE_CONTEXT_PARALLEL"
MOE_DATA_PARALLEL = "MOE_DATA_PARALLEL"
MOE_RESTART_ATTEMPT = "MOE_RESTART_ATTEMPT"
POD_NAME = "POD_NAME"
POD_NAMESPACE = "POD_NAMESPACE"
MOE_CHECKPOINT_DIR = "MOE_CHECKPOINT_DIR"
MOE_METRICS_PORT = "MOE_METRICS_PORT"
MOE_PROGRESS = "MOE_PROGRESS"
PROGRESS_TO_POD_ANNOTATION = "pod-annotation"
PLAN_PATH = "/etc/moe/plan.json"

# Section 3: exit codes.
EXIT_CONFIG_ERROR = 78  # sysexits.h EX_CONFIG: configuration error, before any collective; never retried
EXIT_RETRIABLE = 75  # sysexits.h EX_TEMPFAIL: NCCL / distributed / runtime failure worth a gang restart
EXIT_STOPPED = 143  # 128 + SIGTERM: stopped on request after a checkpoint (section 5); not a failure

# Section 4: progress report.
PROGRESS_ANNOTATION = "training.moe.dev/progress"
PROGRESS_MIN_INTERVAL_SECONDS = 10  # rank 0 reports at most this often (and at the end)

# Section 5: checkpoint before stop.
CHECKPOINT_REQUEST_ANNOTATION = "training.moe.dev/checkpoint-request"
MOE_POD_ANNOTATIONS = "MOE_POD_ANNOTATIONS"
POD_INFO_DIR = "/etc/moe-pod"
POD_ANNOTATIONS_FILE = "annotations"
POD_ANNOTATIONS_PATH = "/etc/moe-pod/annotations"

#: Environment the trainer reads that is not the operator's: torchrun's own (RANK, LOCAL_RANK), the Kubernetes
#: service-account client's, and knobs for tests, benchmarks and the e2e local runner (a job may set them through
#: spec.trainer.env).
TRAINER_ENV = {
    "RANK": "global rank (torchrun)",
    "LOCAL_RANK": "rank on this node (torchrun)",
    "KUBERNETES_SERVICE_HOST": "API server host (in-cluster)",
    "KUBERNETES_SERVICE_PORT": "API server port (in-cluster)",
    "MOE_K8S_SA_DIR": "service-account token directory when not at the in-cluster path (e2e local runner)",
    "MOE_DEVICE": "cpu forces CPU/gloo even with a GPU (tests)",
    "MOE_PRECISION": "bf16 | fp32 working precision (default bf16 on GPU, fp32 on CPU)",
    "MOE_COMPILE": "0 runs eagerly (no per-layer torch.compile)",
    "MOE_FUSED_ADAMW": "0 uses the unfused AdamW update",
    "MOE_PEAK_TFLOPS": "peak dense bf16 TFLOP/s of one device for MFU, overriding metrics.PEAK_BF16_TFLOPS",
    "MOE_TEST_FAIL_AT_STEP": "tests: raise a retriable error at this step",
    "MOE_LOSS_LOG": "tests: rank 0 appends 'step loss' lines to this file",
    "MOE_EXPORT_HF_DIR": "write the final weights as a Hugging Face checkpoint here",
}
