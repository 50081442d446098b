#!/usr/bin/env python3
"""Renders JobSet's webhook configurations (copied from the sigs.k8s.io/jobset module's
config/components/webhook by build-jobset.sh) for a controller that runs as a local process: every webhook points
at https://127.0.0.1:<port> with the harness's CA instead of the in-cluster Service.

  jobset-manifests.py webhooks CONFIG_DIR PORT CA_FILE   -> the Mutating/ValidatingWebhookConfiguration

The module's kustomization replaces webhook 1 of each (the pod webhooks) by patches/{mutating,validating}-patch.yaml,
which add an objectSelector (pods labelled jobset.sigs.k8s.io/jobset-name only); the same replacement is done here,
so other pods never meet JobSet's webhook. Output: one JSON List on stdout (kubectl apply -f -). PyYAML only."""

import base64
import json
import pathlib
import sys

import yaml

WEBHOOK_CONFIGS = {  # kind -> (our name, the module's kustomize patch for it)
    "MutatingWebhookConfiguration": ("moe-e2e-jobset-mutating", "mutating-patch.yaml"),
    "ValidatingWebhookConfiguration": ("moe-e2e-jobset-validating", "validating-patch.yaml"),
}


def webhooks(config, port, ca):
    items = []
    for doc in yaml.safe_load_all((config / "webhook" / "manifests.yaml").read_text()):
        if not doc:
            continue
        name, patch_file = WEBHOOK_CONFIGS[doc["kind"]]
        for op in yaml.safe_load((config / "webhook" / patch_file).read_text()):
            if op["op"] != "replace" or not op["path"].startswith("/webhooks/"):
                sys.exit(f"{patch_file}: unexpected patch {op['op']} {op['path']}")
            doc["webhooks"][int(op["path"].removeprefix("/webhooks/"))] = op["value"]
        for w in doc["webhooks"]:
            path = w["clientConfig"]["service"]["path"]
            w["clientConfig"] = {"url": f"https://127.0.0.1:{port}{path}", "caBundle": ca}
        doc["metadata"] = {"name": name}
        items.append(doc)
    return items


def main(argv):
    what, config, port, ca_file = argv[1], pathlib.Path(argv[2]), int(argv[3]), argv[4]
    if what != "webhooks":
        sys.exit(f"unknown command {what!r}: only 'webhooks'")
    ca = base64.b64encode(pathlib.Path(ca_file).read_bytes()).decode()
    json.dump({"apiVersion": "v1", "kind": "List", "items": webhooks(config, port, ca)}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv)
