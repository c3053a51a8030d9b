#!/usr/bin/env python3
"""Compares what `helm template` renders with what `kubectl kustomize`
builds, for the objects both installs must agree on: the operator's RBAC
rules and bindings, and its Deployment (selector, strategy and Pod spec).
Helm's own labels, the order of environment variables and the CRDs (which
Helm installs from crds/) are left out.

    compare-installs.py HELM.yaml KUSTOMIZE.yaml
Prints the differences and exits 1 when there are any.
"""

import json
import sys

import yaml


def load(path):
    with open(path, encoding="utf-8") as f:
        return {
            (d["kind"], d["metadata"]["name"]): d
            for d in yaml.safe_load_all(f)
            if d and d.get("kind") != "CustomResourceDefinition"
        }


def normal(kind, obj):
    if kind in ("ClusterRole", "Role"):
        return {"kind": kind, "rules": obj.get("rules")}
    if kind in ("ClusterRoleBinding", "RoleBinding"):
        return {"kind": kind, "roleRef": obj["roleRef"], "subjects": obj["subjects"]}
    if kind == "ServiceAccount":
        return {"name": obj["metadata"]["name"], "namespace": obj["metadata"].get("namespace")}
    if kind == "Deployment":
        spec = json.loads(json.dumps(obj["spec"]))
        for c in spec["template"]["spec"]["containers"]:
            c["env"] = sorted(c.get("env", []), key=lambda e: e["name"])
        return spec
    return None


def main():
    helm, kust = load(sys.argv[1]), load(sys.argv[2])
    problems = []
    for key in sorted(set(helm) | set(kust)):
        if key not in helm:
            problems.append(f"{key[0]}/{key[1]}: only in the kustomize install")
            continue
        if key not in kust:
            problems.append(f"{key[0]}/{key[1]}: only in the Helm chart")
            continue
        a, b = normal(key[0], helm[key]), normal(key[0], kust[key])
        if a != b:
            problems.append(
                f"{key[0]}/{key[1]} differs:\n  helm:      {json.dumps(a, sort_keys=True)}\n"
                f"  kustomize: {json.dumps(b, sort_keys=True)}"
            )
    for p in problems:
        print(p)
    if not problems:
        print(f"{len(helm)} objects agree")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
