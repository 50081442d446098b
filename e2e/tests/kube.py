"""Tiny kubectl wrapper for the API-server tier tests (stdlib only: subprocess + json)."""

import json
import os
import subprocess
import time

KUBECTL = os.environ.get("KUBECTL", "kubectl")


class KubectlError(Exception):
    def __init__(self, args, returncode, stdout, stderr):
        super().__init__(f"kubectl {' '.join(args)} exited {returncode}: {stderr.strip()}")
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def kubectl(*args, input=None, check=True, timeout=60):
    """Runs kubectl; returns stdout. Raises KubectlError (with .stderr) when check and the exit code != 0."""
    if isinstance(input, (dict, list)):
        input = json.dumps(input)
    p = subprocess.run([KUBECTL, *args], input=input, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise KubectlError(args, p.returncode, p.stdout, p.stderr)
    return p.stdout if check else p


def get(kind, name=None, namespace=None):
    args = ["get", kind] + ([name] if name else []) + (["-n", namespace] if namespace else []) + ["-o", "json"]
    return json.loads(kubectl(*args))


def apply(obj, *extra):
    """kubectl apply -f - of a dict; returns the resulting object."""
    return json.loads(kubectl("apply", "-o", "json", *extra, "-f", "-", input=obj))


def create(obj, *extra):
    return json.loads(kubectl("create", "-o", "json", *extra, "-f", "-", input=obj))


def rejected(fn, *args, **kwargs):
    """Calls fn expecting a KubectlError; returns its stderr (the apiserver's message)."""
    try:
        fn(*args, **kwargs)
    except KubectlError as e:
        return e.stderr
    raise AssertionError(f"expected the apiserver to reject {fn.__name__}{args}, but it was accepted")


def yaml_to_objects(path):
    """Parses a YAML file into JSON objects by asking kubectl (no PyYAML needed)."""
    out = json.loads(kubectl("create", "--dry-run=client", "--validate=false", "-o", "json", "-f", str(path)))
    return out["items"] if out.get("kind") == "List" else [out]


def wait_for(predicate, timeout=30, interval=0.3, what="condition"):
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def merge(base, patch):
    """JSON merge patch (RFC 7386) of patch onto a deep copy of base; None deletes a key."""
    if not isinstance(patch, dict):
        return patch
    out = dict(base) if isinstance(base, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge(out.get(k), v)
    return out
