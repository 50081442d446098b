#!/usr/bin/env python3
"""Local runner: the pods of one MoETrainingJob run as local processes, so the real trainer trains on CPU under the
operator's contract (docs/contract.md) while the control plane is the real one (e2e/bin/cluster-up.sh) and the
nodes are KWOK's.

For each pod labelled training.moe.dev/job=<job> it does what a kubelet + container runtime would:
  * hold: while the runner runs, a MutatingAdmissionPolicy (removed on exit) annotates the job's pods
    e2e.moe.dev/hold=true at creation, so KWOK keeps them Running instead of completing them after
    MOE_KWOK_TRAINING_SECONDS (a pod created before the policy took effect is annotated when seen);
  * once KWOK reports it Running: materialize its volumes under the work dir (configMap, secret, emptyDir,
    projected service-account token/CA/namespace via `kubectl create token` bound to the pod, and
    persistentVolumeClaim -> <work>/pvc/<claimName>, shared by every pod and attempt, so checkpoints survive
    gang restarts; downwardAPI files, rewritten atomically whenever the watch brings a change of the pod's
    annotations or labels, as the kubelet's sync does: the operator's checkpoint request reaches the trainer
    this way), build its env (value, valueFrom fieldRef/configMapKeyRef/secretKeyRef, envFrom) and run
    its command + args (default: the trainer image's entrypoint `moe-train`, i.e. trainer-image/bin/moe-train,
    with the trainer venv's python first on PATH) in a new process group, logging to <work>/logs/<pod>-a<N>.log;
  * when that process exits: kill what is left of its process group (the container's cgroup) and annotate the
    pod e2e.moe.dev/exit-code=<code> (128+N when killed by signal N), run-seconds=0, hold removed, so KWOK ends
    the pod Succeeded/Failed with the real exit code in its container status, and the operator decides;
  * when the pod is deleted (gang restart, suspend, job deletion): SIGTERM its process group, SIGKILL after a
    grace period.

What differs from a node, and why:
  * no mount namespace: a container path under a volume's mountPath is translated to the volume's local dir,
    in env values and in JSON files of configMap volumes (the plan's training.checkpoint.dir "/checkpoints");
    MOE_K8S_SA_DIR points the trainer at the translated service-account dir;
  * one network namespace for every pod: MASTER_ADDR -> 127.0.0.1, MASTER_PORT -> a free port per (job, attempt)
    (all pods of a gang share it; gangs of different attempts never collide), MOE_METRICS_PORT -> a free range
    per pod; KUBERNETES_SERVICE_HOST/PORT -> the apiserver of the kubeconfig; GLOO_SOCKET_IFNAME=lo;
  * CPU only: OMP_NUM_THREADS=1 unless the pod sets it; the trainer chooses gloo when CUDA is absent.

State (pods, pids, logs, exit codes) is written to <work>/state.json after every change, for tests.
Stdlib + kubectl only. Exits 0 when the job reaches Succeeded (1 on Failed) and no process of it is left, or
on --timeout (exit 3) / SIGTERM (every process group it started is killed first).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
JOB_LABEL = "training.moe.dev/job"
ATTEMPT_LABEL = "training.moe.dev/attempt"
JOBS = "moetrainingjobs.training.moe.dev"
HOLD, EXIT_CODE, RUN_SECONDS = "e2e.moe.dev/hold", "e2e.moe.dev/exit-code", "e2e.moe.dev/run-seconds"
RUNNER_MARK = "MOE_E2E_RUNNER_KUBECONFIG"  # env of every pod process: the kubeconfig of the cluster it belongs to
TERMINATION_MESSAGE = "e2e.moe.dev/termination-message"  # the moe-pod-exit stage copies it into the terminated state
SA_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


def format_map(m: dict) -> str:
    """A map as the kubelet writes it into a downwardAPI file: `key="value"` lines sorted by key, the value quoted
    (Go's strconv.Quote; JSON's string escapes agree with it for printable text)."""
    return "".join(f"{k}={json.dumps(m[k], ensure_ascii=False)}\n" for k in sorted(m))


def log(msg: str) -> None:
    print(f"[runner {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class KubectlError(RuntimeError):
    pass


def kubectl(*args: str, input: str | None = None, check: bool = True) -> str:
    r = subprocess.run(["kubectl", *args], input=input, capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise KubectlError(f"kubectl {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def free_port(count: int = 1) -> int:
    """A base port with `count` consecutive free ports on 127.0.0.1 (bound and released: good enough here)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + count >= 65535:
            continue
        socks = []
        try:
            for p in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


class PodWatch(threading.Thread):
    """List + watch of the job's pods in the background, without a gap: the watch (`kubectl get --raw`, which streams)
    starts at the list's resourceVersion, so a pod created right after the list is still seen. Keeps {uid: pod};
    re-lists when the watch ends or expires (410)."""

    def __init__(self, namespace: str, selector: str, wake: threading.Event):
        super().__init__(daemon=True)
        self.namespace, self.selector, self.wake = namespace, selector, wake
        self.pods: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.stopped = False
        self.synced = threading.Event()

    def snapshot(self) -> dict[str, dict]:
        with self.lock:
            return dict(self.pods)

    def stop(self) -> None:
        self.stopped = True
        if self.proc and self.proc.poll() is None:
            self.proc.kill()

    def run(self) -> None:
        while not self.stopped:
            try:
                listed = json.loads(kubectl("get", "pods", "-n", self.namespace, "-l", self.selector, "-o", "json"))
                with self.lock:
                    self.pods = {p["metadata"]["uid"]: p for p in listed["items"]}
                self.synced.set()
                self.wake.set()
                query = urllib.parse.urlencode(
                    {
                        "watch": "1",
                        "labelSelector": self.selector,
                        "resourceVersion": listed["metadata"]["resourceVersion"],
                    }
                )
                self.proc = subprocess.Popen(
                    ["kubectl", "get", "--raw", f"/api/v1/namespaces/{self.namespace}/pods?{query}"],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
                for line in self.proc.stdout:
                    ev = json.loads(line)
                    if ev.get("type") == "ERROR":  # e.g. 410 Gone: re-list
                        break
                    obj = ev.get("object") or {}
                    uid = obj.get("metadata", {}).get("uid")
                    if not uid:
                        continue
                    with self.lock:
                        if ev["type"] == "DELETED":
                            self.pods.pop(uid, None)
                        else:
                            self.pods[uid] = obj
                    self.wake.set()
                self.proc.kill()
                self.proc.wait()
            except Exception as e:  # noqa: BLE001 -- keep watching
                log(f"pod watch: {e}; restarting")
            if not self.stopped:
                time.sleep(0.5)


class PodProcess:
    def __init__(self, pod: dict):
        md = pod["metadata"]
        self.uid, self.name, self.namespace = md["uid"], md["name"], md["namespace"]
        self.attempt = md.get("labels", {}).get(ATTEMPT_LABEL, "0")
        self.state = "new"  # new -> held -> running -> exited | killed | skipped
        self.proc: subprocess.Popen | None = None
        self.log_path: str | None = None
        self.exit_code: int | None = None
        self.started = self.ended = None
        self.kill_deadline: float | None = None
        self.dir: pathlib.Path | None = None
        self.metrics_port: int | None = None

    def to_json(self) -> dict:
        return {
            "uid": self.uid,
            "name": self.name,
            "attempt": int(self.attempt),
            "state": self.state,
            "pid": self.proc.pid if self.proc else None,
            "log": self.log_path,
            "exitCode": self.exit_code,
            "dir": str(self.dir) if self.dir else None,
            "metricsPort": self.metrics_port,
            "started": self.started,
            "ended": self.ended,
        }


class Runner:
    def __init__(self, args):
        self.args = args
        self.ns, self.job = args.namespace, args.job
        self.work = pathlib.Path(args.work).resolve()
        for d in ("pods", "pvc", "logs"):
            (self.work / d).mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, PodProcess] = {}
        self.downward: dict[pathlib.Path, list] = {}  # pod dir -> [(volume dir, downwardAPI items)]
        self.master_ports: dict[str, int] = {}
        self.wake = threading.Event()
        self.watch = PodWatch(self.ns, f"{JOB_LABEL}={self.job}", self.wake)
        server = json.loads(kubectl("config", "view", "--minify", "-o", "json"))["clusters"][0]["cluster"]["server"]
        u = urllib.parse.urlparse(server)
        self.api_host, self.api_port = u.hostname, str(u.port or 443)
        venv_bin = pathlib.Path(args.python).parent
        self.path = os.pathsep.join([str(REPO / "trainer-image" / "bin"), str(venv_bin), os.environ.get("PATH", "")])
        self.stopping = self.ready = False

    # ------------------------------------------------------------------ admission: hold from creation on
    def policy_name(self) -> str:
        return f"e2e-local-runner.{self.ns}.{self.job}"[:253]

    def install_hold_policy(self) -> None:
        """A MutatingAdmissionPolicy that adds e2e.moe.dev/hold=true to the job's pods when they are created.
        Annotating after creation is too late: KWOK makes a scheduled pod Running within milliseconds and arms
        its training-complete stage (MOE_KWOK_TRAINING_SECONDS) right then, hold or not."""
        name = self.policy_name()
        cond = (
            f'has(object.metadata.labels) && "{JOB_LABEL}" in object.metadata.labels && '
            f'object.metadata.labels["{JOB_LABEL}"] == "{self.job}"'
        )
        docs = [
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "MutatingAdmissionPolicy",
                "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "e2e-local-runner"}},
                "spec": {
                    "matchConstraints": {
                        "resourceRules": [
                            {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}
                        ]
                    },
                    "matchConditions": [{"name": "pod-of-the-job", "expression": cond}],
                    "failurePolicy": "Fail",
                    "reinvocationPolicy": "Never",
                    "mutations": [
                        {
                            "patchType": "ApplyConfiguration",
                            "applyConfiguration": {
                                "expression": f'Object{{metadata: Object.metadata{{annotations: {{"{HOLD}": "true"}}}}}}'  # noqa: E501
                            },
                        }
                    ],
                },
            },
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "MutatingAdmissionPolicyBinding",
                "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "e2e-local-runner"}},
                "spec": {
                    "policyName": name,
                    "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": self.ns}}},
                },
            },
        ]
        kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}))
        probe = json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "e2e-local-runner-probe", "labels": {JOB_LABEL: self.job}},
                "spec": {"containers": [{"name": "c", "image": "probe"}]},
            }
        )
        deadline = time.time() + 30
        while True:  # policies take effect asynchronously: wait until a dry-run create shows the annotation
            out = kubectl(
                "create", "--dry-run=server", "-n", self.ns, "-o", "json", "-f", "-", input=probe, check=False
            )
            if out and json.loads(out)["metadata"].get("annotations", {}).get(HOLD) == "true":
                return
            if time.time() > deadline:
                raise RuntimeError(f"MutatingAdmissionPolicy {name} not in effect after 30 s")
            time.sleep(0.3)

    def remove_hold_policy(self) -> None:
        name = self.policy_name()
        kubectl("delete", "--ignore-not-found", "mutatingadmissionpolicybinding", name, check=False)
        kubectl("delete", "--ignore-not-found", "mutatingadmissionpolicy", name, check=False)

    # ------------------------------------------------------------------ main loop
    def run(self) -> int:
        try:
            self.install_hold_policy()
        except Exception as e:  # noqa: BLE001
            log(f"cannot install the hold policy ({e}); annotating pods after creation instead (racy with KWOK)")
        deadline = time.time() + self.args.timeout
        next_job_check = 0.0
        phase = None
        try:
            self.watch.start()
            if not self.watch.synced.wait(30):
                log("could not list pods")
                return 2
            self.ready = True
            self.write_state()
            log("ready")
            while not self.stopping:
                self.wake.wait(0.2)
                self.wake.clear()
                self.step(self.watch.snapshot())
                now = time.time()
                if now >= next_job_check:
                    next_job_check = now + 1.0
                    out = kubectl("get", JOBS, self.job, "-n", self.ns, "-o", "jsonpath={.status.phase}", check=False)
                    phase = out.strip() or None
                    if phase in ("Succeeded", "Failed") and not self.alive():
                        log(f"job {self.ns}/{self.job} {phase}; no process left")
                        return 0 if phase == "Succeeded" else 1
                if now > deadline:
                    log(f"timeout after {self.args.timeout}s (job phase {phase})")
                    return 3
        finally:
            self.shutdown()
        return 130

    def alive(self) -> bool:
        return any(p.proc and p.proc.poll() is None for p in self.procs.values())

    def step(self, pods: dict[str, dict]) -> None:
        changed = False
        for uid, pod in pods.items():
            md, st = pod["metadata"], pod.get("status", {})
            p = self.procs.get(uid)
            if p is None:
                p = self.procs[uid] = PodProcess(pod)
                changed = True
                if (
                    md.get("deletionTimestamp")
                    or st.get("phase") in ("Succeeded", "Failed")
                    or EXIT_CODE in md.get("annotations", {})
                ):
                    p.state = "skipped"  # not ours to run (ended or ending before we saw it)
                    continue
                try:
                    if md.get("annotations", {}).get(HOLD) != "true":  # created before the policy was in effect
                        kubectl("annotate", "pod", p.name, "-n", self.ns, f"{HOLD}=true", "--overwrite")
                    p.state = "held"
                    log(f"{p.name} (attempt {p.attempt}): held")
                except KubectlError as e:
                    log(f"{p.name}: cannot hold: {e}")
                    p.state = "skipped"
                    continue
            if md.get("deletionTimestamp"):
                changed |= self.terminate(p, "pod is being deleted")
                continue
            if p.state == "running" and p.dir is not None:
                self.refresh_downward(p, pod)
            if p.state == "held" and st.get("phase") == "Running":
                try:
                    self.start(p, pod)
                except Exception as e:  # noqa: BLE001 -- like a container that cannot start
                    log(f"{p.name}: cannot start: {e}")
                    p.state, p.exit_code = "exited", 128
                    self.report_exit(p, pod)
                changed = True
        for uid, p in self.procs.items():
            if uid not in pods:
                changed |= self.terminate(p, "pod is gone")
            changed |= self.reap(p)  # a process we stopped because its pod was deleted: nothing to report
            if p.state == "running" and p.kill_deadline is None and p.proc.poll() is not None:
                self.on_exit(p, pods.get(uid))
                changed = True
        if changed:
            self.write_state()

    # ------------------------------------------------------------------ process lifecycle
    def start(self, p: PodProcess, pod: dict) -> None:
        spec = pod["spec"]
        c = spec["containers"][0]
        p.dir = self.work / "pods" / f"{p.name}-a{p.attempt}-{p.uid[:8]}"
        p.dir.mkdir(parents=True, exist_ok=True)
        vols = self.volumes(pod, p.dir)
        mounts = []  # (mountPath, local dir), longest first
        for m in c.get("volumeMounts", []):
            local = vols.get(m["name"])
            if local is None:
                raise RuntimeError(f"volume {m['name']} not materialized")
            if m.get("subPath"):
                local = local / m["subPath"]
            mounts.append((m["mountPath"].rstrip("/") or "/", local))
        mounts.sort(key=lambda x: -len(x[0]))

        def translate(s: str) -> str:
            for mp, local in mounts:
                if s == mp or s.startswith(mp + "/"):
                    return str(local) + s[len(mp) :]
            return s

        for name, local in vols.items():  # container paths inside JSON files of configMap volumes (the plan)
            if self.volume_kind(spec, name) == "configMap":
                for f in local.rglob("*.json"):
                    self.translate_json(f, translate)

        env = {
            "PATH": self.path,
            "HOME": os.environ.get("HOME", "/root"),
            "HOSTNAME": spec.get("hostname", p.name),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": "1",
            "GLOO_SOCKET_IFNAME": "lo",
            "KUBERNETES_SERVICE_HOST": self.api_host,
            "KUBERNETES_SERVICE_PORT": self.api_port,
            "MOE_PYTHON": self.args.python,
            # marks the process as a pod of this cluster, so e2e/bin/cluster-down.sh can reap it even when the
            # runner itself was killed (SIGKILL, a test's timeout) and could not stop its process groups
            RUNNER_MARK: os.path.realpath(os.environ.get("KUBECONFIG", "")),
        }
        for ef in c.get("envFrom", []):
            prefix = ef.get("prefix", "")
            if "configMapRef" in ef:
                data = self.get_data("configmap", ef["configMapRef"]["name"], ef["configMapRef"].get("optional"))
            else:
                data = self.get_data("secret", ef["secretRef"]["name"], ef["secretRef"].get("optional"))
            env.update({prefix + k: translate(v) if v.startswith("/") else v for k, v in data.items()})
        for e in c.get("env", []):
            if "valueFrom" in e:
                v = self.value_from(e["valueFrom"], pod)
                if v is None:
                    continue
            else:
                v = e.get("value", "")
            env[e["name"]] = translate(v) if v.startswith("/") else v
        # one host network: loopback rendezvous, a port per gang attempt, metrics ports that do not collide
        if "MASTER_ADDR" in env:
            env["MASTER_ADDR"] = "127.0.0.1"
        if "MASTER_PORT" in env:
            key = f"{self.ns}/{self.job}/{p.attempt}"
            if key not in self.master_ports:
                self.master_ports[key] = free_port()
            env["MASTER_PORT"] = str(self.master_ports[key])
        nproc = int(env.get("NPROC_PER_NODE", "1") or 1)
        if "MOE_METRICS_PORT" in env:
            p.metrics_port = free_port(nproc)  # in state.json: where a scraper finds local rank 0 (the pod's port)
            env["MOE_METRICS_PORT"] = str(p.metrics_port)
        if SA_PATH != translate(SA_PATH):
            env["MOE_K8S_SA_DIR"] = translate(SA_PATH)

        command = list(c.get("command") or self.args.entrypoint) + list(c.get("args") or [])
        exe = shutil.which(command[0], path=env["PATH"])
        if not exe:
            raise RuntimeError(f"command {command[0]!r} not found on {env['PATH']}")
        command[0] = exe
        cwd = translate(c["workingDir"]) if c.get("workingDir") else str(p.dir)
        p.log_path = str(self.work / "logs" / f"{p.name}-a{p.attempt}.log")
        with open(p.log_path, "ab") as out:
            out.write(f"# {time.strftime('%H:%M:%S')} {' '.join(command)}\n".encode())
            out.flush()
            p.proc = subprocess.Popen(
                command,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        (p.dir / "env.json").write_text(json.dumps(env, indent=1, sort_keys=True))
        p.state, p.started = "running", time.time()
        log(
            f"{p.name} (attempt {p.attempt}): started pid {p.proc.pid}: {' '.join(command)} "
            f"[NODE_RANK={env.get('NODE_RANK')} NPROC_PER_NODE={nproc} MASTER_PORT={env.get('MASTER_PORT')}] "
            f"log {p.log_path}"
        )

    def on_exit(self, p: PodProcess, pod: dict | None) -> None:
        rc = p.proc.returncode
        code = rc if rc >= 0 else 128 - rc
        p.exit_code, p.ended, p.state = code, time.time(), "exited"
        log(f"{p.name} (attempt {p.attempt}): exited with code {code}")
        # Report first, then kill what is left of the process group (the container's cgroup): when the main process
        # was killed, its orphaned workers keep the peers of other pods going until then, so this pod's exit code
        # reaches the apiserver before any peer can fail because of it (a deterministic lastFailure).
        self.report_exit(p, pod)
        self.killpg(p, signal.SIGKILL)

    def report_exit(self, p: PodProcess, pod: dict | None = None) -> None:
        """Exit code -> KWOK (moe-pod-exit stage, at once). A JSON patch whose first op tests the pod's uid: pods of
        the next attempt have the same names, and must never receive the exit code of a process of this one."""
        esc = lambda k: k.replace("~", "~0").replace("/", "~1")  # noqa: E731
        ops = [
            {"op": "test", "path": "/metadata/uid", "value": p.uid},
            {"op": "add", "path": f"/metadata/annotations/{esc(EXIT_CODE)}", "value": str(p.exit_code)},
            {"op": "add", "path": f"/metadata/annotations/{esc(RUN_SECONDS)}", "value": "0"},
        ]
        said = self.termination_message(p, pod)
        if said is not None:
            ops.append({"op": "add", "path": f"/metadata/annotations/{esc(TERMINATION_MESSAGE)}", "value": said})
        if pod is not None and not pod["metadata"].get("annotations"):
            ops[1:] = [
                {
                    "op": "add",
                    "path": "/metadata/annotations",
                    "value": {
                        EXIT_CODE: str(p.exit_code),
                        RUN_SECONDS: "0",
                        **({TERMINATION_MESSAGE: said} if said is not None else {}),
                    },
                }
            ]
        elif pod is not None and HOLD in pod["metadata"]["annotations"]:
            ops.append({"op": "remove", "path": f"/metadata/annotations/{esc(HOLD)}"})
        try:
            kubectl("patch", "pod", p.name, "-n", self.ns, "--type=json", "-p", json.dumps(ops))
        except KubectlError as e:
            log(f"{p.name} (attempt {p.attempt}): exit code {p.exit_code} not reported: {e}")

    def termination_message(self, p: PodProcess, pod: dict | None) -> str | None:
        """What the kubelet would write as the failed container's termination message with
        terminationMessagePolicy FallbackToLogsOnError: the end of its log, at most 80 lines and 2048 bytes (the
        trainer writes no termination-log file). None for an exit 0 or another policy."""
        if p.exit_code == 0 or pod is None or not p.log_path:
            return None
        c = pod["spec"]["containers"][0]
        if c.get("terminationMessagePolicy") != "FallbackToLogsOnError":
            return None
        try:
            with open(p.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 2048))
                data = f.read()
        except OSError:
            return None
        lines = data.decode("utf-8", "replace").splitlines()[-80:]
        return "\n".join(lines)

    def terminate(self, p: PodProcess, why: str) -> bool:
        if p.state != "running" or p.kill_deadline is not None:
            return False
        if p.proc.poll() is None:
            log(f"{p.name} (attempt {p.attempt}): {why}: SIGTERM to process group {p.proc.pid}")
            self.killpg(p, signal.SIGTERM)
            p.kill_deadline = time.time() + self.args.grace
        return True

    def reap(self, p: PodProcess) -> bool:
        if p.state != "running" or p.kill_deadline is None:
            return False
        if p.proc.poll() is None and time.time() < p.kill_deadline:
            return False
        self.killpg(p, signal.SIGKILL)
        try:
            p.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        rc = p.proc.returncode
        p.exit_code = None if rc is None else rc if rc >= 0 else 128 - rc
        p.state, p.ended = "killed", time.time()
        log(f"{p.name} (attempt {p.attempt}): stopped (exit {p.exit_code})")
        return True

    @staticmethod
    def killpg(p: PodProcess, sig: int) -> None:
        try:
            os.killpg(p.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def shutdown(self) -> None:
        self.watch.stop()
        self.remove_hold_policy()
        for p in self.procs.values():
            if p.proc and p.state == "running":
                self.killpg(p, signal.SIGKILL)
                try:
                    p.proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
                p.state = "killed"
        self.write_state()

    def write_state(self) -> None:
        doc = {
            "namespace": self.ns,
            "job": self.job,
            "work": str(self.work),
            "ready": self.ready,
            "pods": [p.to_json() for p in self.procs.values()],
        }
        tmp = self.work / "state.json.tmp"
        tmp.write_text(json.dumps(doc, indent=1))
        os.replace(tmp, self.work / "state.json")

    # ------------------------------------------------------------------ volumes and env
    @staticmethod
    def volume_kind(spec: dict, name: str) -> str | None:
        for v in spec.get("volumes", []):
            if v["name"] == name:
                return next((k for k in v if k != "name"), None)
        return None

    @staticmethod
    def translate_json(path: pathlib.Path, translate) -> None:
        try:
            doc = json.loads(path.read_text())
        except ValueError:
            return

        def walk(x):
            if isinstance(x, dict):
                return {k: walk(v) for k, v in x.items()}
            if isinstance(x, list):
                return [walk(v) for v in x]
            if isinstance(x, str) and x.startswith("/"):
                return translate(x)
            return x

        new = walk(doc)
        if new != doc:
            path.write_text(json.dumps(new, indent=1))

    def get_data(self, kind: str, name: str, optional=False) -> dict[str, str]:
        out = kubectl("get", kind, name, "-n", self.ns, "-o", "json", check=not optional)
        if not out:
            return {}
        obj = json.loads(out)
        if kind == "secret":
            return {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
        return dict(obj.get("data") or {})

    def value_from(self, vf: dict, pod: dict) -> str | None:
        if "fieldRef" in vf:
            return self.field(pod, vf["fieldRef"]["fieldPath"])
        if "configMapKeyRef" in vf:
            r = vf["configMapKeyRef"]
            return self.get_data("configmap", r["name"], r.get("optional")).get(r["key"])
        if "secretKeyRef" in vf:
            r = vf["secretKeyRef"]
            return self.get_data("secret", r["name"], r.get("optional")).get(r["key"])
        if "resourceFieldRef" in vf:
            return "1"
        return None

    @staticmethod
    def field(pod: dict, path: str) -> str:
        md, spec = pod["metadata"], pod["spec"]
        if path in ("metadata.annotations", "metadata.labels"):  # a downwardAPI file: the kubelet's format
            return format_map(md.get(path.split(".")[1]) or {})
        if path.startswith("metadata.labels['") or path.startswith("metadata.annotations['"):
            which, key = path.split("['", 1)
            return md.get(which.split(".")[1], {}).get(key.rstrip("']"), "")
        return {
            "metadata.name": md["name"],
            "metadata.namespace": md["namespace"],
            "metadata.uid": md["uid"],
            "spec.nodeName": spec.get("nodeName", ""),
            "spec.serviceAccountName": spec.get("serviceAccountName", ""),
            "status.podIP": "127.0.0.1",
            "status.hostIP": "127.0.0.1",
        }.get(path, "")

    def write_downward(self, d: pathlib.Path, items: list, pod: dict) -> None:
        """Writes a downwardAPI volume's fieldRef files as the kubelet does: each replaced atomically, so a reader
        sees the old or the new content, never a mix."""
        for item in items:
            if "fieldRef" not in item:
                continue
            f = d / item["path"]
            f.parent.mkdir(parents=True, exist_ok=True)
            text = self.field(pod, item["fieldRef"]["fieldPath"])
            if f.exists() and f.read_text() == text:
                continue
            tmp = f.with_name(f".{f.name}.tmp")
            tmp.write_text(text)
            os.replace(tmp, f)

    def refresh_downward(self, p: PodProcess, pod: dict) -> None:
        """The kubelet updates downwardAPI volumes when the pod's labels or annotations change (its sync loop):
        so does the runner, on every change the watch brings."""
        for d, items in self.downward.get(p.dir, []):
            self.write_downward(d, items, pod)

    def write_items(self, d: pathlib.Path, data: dict[str, str], items: list | None) -> None:
        for key, rel in [(i["key"], i["path"]) for i in items] if items else [(k, k) for k in data]:
            if key not in data:
                continue
            f = d / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(data[key])

    def volumes(self, pod: dict, pod_dir: pathlib.Path) -> dict[str, pathlib.Path]:
        md, spec = pod["metadata"], pod["spec"]
        out = {}
        for v in spec.get("volumes", []):
            name = v["name"]
            d = pod_dir / "volumes" / name
            if "persistentVolumeClaim" in v:
                d = self.work / "pvc" / v["persistentVolumeClaim"]["claimName"]
                d.mkdir(parents=True, exist_ok=True)
            elif "configMap" in v:
                d.mkdir(parents=True, exist_ok=True)
                cm = v["configMap"]
                self.write_items(d, self.get_data("configmap", cm["name"], cm.get("optional")), cm.get("items"))
            elif "secret" in v:
                d.mkdir(parents=True, exist_ok=True)
                s = v["secret"]
                self.write_items(d, self.get_data("secret", s["secretName"], s.get("optional")), s.get("items"))
            elif "downwardAPI" in v:
                d.mkdir(parents=True, exist_ok=True)
                self.downward.setdefault(pod_dir, []).append((d, v["downwardAPI"].get("items", [])))
                self.write_downward(d, v["downwardAPI"].get("items", []), pod)
            elif "projected" in v:
                d.mkdir(parents=True, exist_ok=True)
                for src in v["projected"].get("sources", []):
                    if "serviceAccountToken" in src:
                        t = src["serviceAccountToken"]
                        args = [
                            "create",
                            "token",
                            spec.get("serviceAccountName", "default"),
                            "-n",
                            md["namespace"],
                            "--bound-object-kind",
                            "Pod",
                            "--bound-object-name",
                            md["name"],
                            "--bound-object-uid",
                            md["uid"],
                            f"--duration={t.get('expirationSeconds', 3600)}s",
                        ]
                        if t.get("audience"):
                            args.append(f"--audience={t['audience']}")
                        (d / t["path"]).write_text(kubectl(*args).strip())
                    elif "configMap" in src:
                        cm = src["configMap"]
                        self.write_items(d, self.get_data("configmap", cm["name"], cm.get("optional")), cm.get("items"))
                    elif "secret" in src:
                        s = src["secret"]
                        self.write_items(d, self.get_data("secret", s["name"], s.get("optional")), s.get("items"))
                    elif "downwardAPI" in src:
                        for item in src["downwardAPI"].get("items", []):
                            if "fieldRef" in item:
                                (d / item["path"]).write_text(self.field(pod, item["fieldRef"]["fieldPath"]))
            else:  # emptyDir, hostPath, ...: a fresh directory of the pod
                d.mkdir(parents=True, exist_ok=True)
            out[name] = d
        return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--namespace", "-n", default="default")
    ap.add_argument(
        "--job", required=True, help="MoETrainingJob name: runs the pods labelled training.moe.dev/job=<job>"
    )
    ap.add_argument("--work", required=True, help="work dir: pods/, pvc/<claim>/, logs/, state.json")
    ap.add_argument(
        "--python",
        default=os.path.expanduser(os.environ.get("MOE_VENV", "~/.cache/moe/venv")) + "/bin/python",
        help="python of the trainer venv (its bin/ goes on PATH after trainer-image/bin)",
    )
    ap.add_argument(
        "--entrypoint", nargs="+", default=["moe-train"], help="the image's entrypoint (no command in the pod)"
    )
    ap.add_argument("--timeout", type=float, default=600, help="give up after this many seconds (exit 3)")
    ap.add_argument("--grace", type=float, default=3, help="seconds between SIGTERM and SIGKILL for a deleted pod")
    args = ap.parse_args(argv)
    runner = Runner(args)

    def on_signal(signum, frame):
        runner.stopping = True
        runner.wake.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log(f"running pods of {args.namespace}/{args.job}; work dir {runner.work}")
    return runner.run()


if __name__ == "__main__":
    sys.exit(main())
