"""bin/moe-train (moe_trainer.launch) passes the trainer's exit code through torchrun (docs/contract.md
section 3), and the progress reporter finds the service account where MOE_K8S_SA_DIR says."""

import os
import subprocess

from conftest import ROOT
from moe_trainer.progress import SA_DIR, ProgressReporter


def test_moe_train_exits_with_the_trainers_config_error_code(tmp_path):
    env = dict(
        os.environ,
        NNODES="1",
        NPROC_PER_NODE="1",
        NODE_RANK="0",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT="0",
        MOE_PLAN_PATH=str(tmp_path / "missing.json"),
        MOE_DEVICE="cpu",
        OMP_NUM_THREADS="1",
    )
    env["MOE_PYTHON"] = os.environ.get("MOE_PYTHON", __import__("sys").executable)
    r = subprocess.run([os.path.join(ROOT, "bin", "moe-train")], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 78, (r.stdout + r.stderr)[-3000:]  # plain torchrun would exit 1


def test_progress_reporter_service_account_dir_override(tmp_path):
    assert ProgressReporter("pod-annotation", env={}).sa_dir == SA_DIR
    assert ProgressReporter("pod-annotation", env={"MOE_K8S_SA_DIR": str(tmp_path)}).sa_dir == str(tmp_path)
