#!/usr/bin/env python3
"""Renders Kueue's own manifests (copied from the sigs.k8s.io/kueue module's config/ by build-kueue.sh) for a
manager that runs as a local process: every webhook and CRD conversion webhook points at
https://127.0.0.1:<port> with the harness's CA instead of an in-cluster Service.

  kueue-manifests.py crds CONFIG_DIR PORT CA_FILE      -> the CRDs; those whose kustomization enables the
                                                          conversion webhook (patches/webhook_in_<plural>.yaml) get it
  kueue-manifests.py webhooks CONFIG_DIR PORT CA_FILE NS_LABEL
                                                       -> the Mutating/ValidatingWebhookConfigurations of the pod
                                                          integration and of Kueue's own kinds only (the other
                                                          frameworks are not enabled, so their paths are not served);
                                                          the pod webhooks only for namespaces labelled NS_LABEL=true

Output: one JSON List on stdout (kubectl apply -f -). PyYAML only."""

import base64
import json
import pathlib
import re
import sys

import yaml

WEBHOOK_CONFIG_NAMES = {
    "MutatingWebhookConfiguration": "moe-e2e-kueue-mutating",
    "ValidatingWebhookConfiguration": "moe-e2e-kueue-validating",
}


def client_config(port, ca, path):
    return {"url": f"https://127.0.0.1:{port}{path}", "caBundle": ca}


def crds(config, port, ca):
    kustomization = (config / "crd" / "kustomization.yaml").read_text()
    converted = set(re.findall(r"^- path: patches/webhook_in_(\w+)\.yaml", kustomization, re.MULTILINE))
    items = []
    for f in sorted((config / "crd").glob("kueue.x-k8s.io_*.yaml")):
        crd = yaml.safe_load(f.read_text())
        if crd["spec"]["names"]["plural"] in converted:
            crd["spec"]["conversion"] = {
                "strategy": "Webhook",
                "webhook": {"clientConfig": client_config(port, ca, "/convert"), "conversionReviewVersions": ["v1"]},
            }
        items.append(crd)
    return items


def webhooks(config, port, ca, ns_label):
    items = []
    for doc in yaml.safe_load_all((config / "webhook" / "manifests.yaml").read_text()):
        if not doc:
            continue
        kept = []
        for w in doc["webhooks"]:
            path = w["clientConfig"]["service"]["path"]
            is_pod = path.endswith("--v1-pod")
            if not (is_pod or "-kueue-x-k8s-io-" in path):
                continue
            w["clientConfig"] = client_config(port, ca, path)
            if is_pod:
                # Only the namespaces of the kueue suite: the other suites' pods never meet Kueue's webhook.
                w["namespaceSelector"] = {"matchLabels": {ns_label: "true"}}
            kept.append(w)
        doc["metadata"] = {"name": WEBHOOK_CONFIG_NAMES[doc["kind"]]}
        doc["webhooks"] = kept
        items.append(doc)
    return items


def main(argv):
    what, config, port, ca_file = argv[1], pathlib.Path(argv[2]), int(argv[3]), argv[4]
    ca = base64.b64encode(pathlib.Path(ca_file).read_bytes()).decode()
    items = crds(config, port, ca) if what == "crds" else webhooks(config, port, ca, argv[5])
    json.dump({"apiVersion": "v1", "kind": "List", "items": items}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv)
