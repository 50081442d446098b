"""Progress report to the operator (docs/contract.md section 4): pod annotation or file."""

from __future__ import annotations

import json
import logging
import os
import ssl
import time
import urllib.request

from .contract import (
    POD_NAME,
    POD_NAMESPACE,
    PROGRESS_ANNOTATION,
    PROGRESS_MIN_INTERVAL_SECONDS,
    PROGRESS_TO_POD_ANNOTATION,
)

log = logging.getLogger("moe_trainer.progress")
ANNOTATION = PROGRESS_ANNOTATION
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class ProgressReporter:
    def __init__(
        self, spec: str | None, env=None, min_interval_s: float = PROGRESS_MIN_INTERVAL_SECONDS, sa_dir: str = SA_DIR
    ):
        env = os.environ if env is None else env
        self.spec, self.min_interval = (spec or "").strip(), min_interval_s
        # MOE_K8S_SA_DIR: where the service-account token, ca.crt and namespace are, when not at the in-cluster
        # path (the e2e local runner runs pods as local processes and materializes the projected volume elsewhere).
        self.sa_dir = env.get("MOE_K8S_SA_DIR") or sa_dir
        self.last = 0.0
        self.namespace, self.pod = env.get(POD_NAMESPACE), env.get(POD_NAME)
        self.api = "https://{}:{}".format(
            env.get("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc"), env.get("KUBERNETES_SERVICE_PORT", "443")
        )

    @property
    def enabled(self) -> bool:
        return bool(self.spec)

    def report(
        self, step: int, loss: float, tokens_per_s: float, mfu: float | None, last_ckpt: int | None, final: bool = False
    ) -> None:
        if not self.enabled:
            return
        doc = {
            "step": step,
            "loss": round(float(loss), 6),
            "tokensPerSecond": round(float(tokens_per_s), 1),
            "mfu": None if mfu is None else round(float(mfu), 5),
            "lastCheckpointStep": last_ckpt,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        try:
            if self.spec.startswith("file:"):
                path = self.spec[5:]
                tmp = f"{path}.tmp.{os.getpid()}"
                with open(tmp, "w") as f:
                    json.dump(doc, f)
                os.replace(tmp, path)
            elif self.spec == PROGRESS_TO_POD_ANNOTATION:
                now = time.monotonic()
                if not final and now - self.last < self.min_interval:
                    return
                self.last = now
                self._patch_pod(doc)
            else:
                log.warning(
                    "MOE_PROGRESS=%r not understood (use pod-annotation or file:<path>); not reporting", self.spec
                )
                self.spec = ""
        except Exception as e:  # progress must never kill training
            log.warning("progress report failed: %s", e)

    def _patch_pod(self, doc: dict) -> None:
        if not self.namespace or not self.pod:
            raise RuntimeError("POD_NAMESPACE/POD_NAME not set (downward API)")
        with open(os.path.join(self.sa_dir, "token")) as f:
            token = f.read().strip()
        ctx = ssl.create_default_context(cafile=os.path.join(self.sa_dir, "ca.crt"))
        body = json.dumps({"metadata": {"annotations": {ANNOTATION: json.dumps(doc)}}}).encode()
        req = urllib.request.Request(
            f"{self.api}/api/v1/namespaces/{self.namespace}/pods/{self.pod}",
            data=body,
            method="PATCH",
            headers={"Content-Type": "application/merge-patch+json", "Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(req, context=ctx, timeout=5) as r:
            r.read()
