#!/usr/bin/env python3
"""Generates the API surface that is derived from other files.

    hack/gen-api.py kube-types [--openapi-dir DIR]
        Reads the Kubernetes OpenAPI v3 documents of a running kube-apiserver
        (through `kubectl get --raw`, with the current KUBECONFIG) or from
        DIR/api-v1.json and DIR/apis-policy-v1.json, and writes the core types
        that our CRDs embed, already converted to CRD structural-schema form,
        to config/crd/kubernetes/types.yaml. Those are Kubernetes' own schema
        facts; nothing of ours is in that file.

    hack/gen-api.py crds
        Builds config/crd/bases/*.yaml from our sources in config/crd/src/
        (our fields, descriptions, defaults, bounds and CEL rules) and the
        Kubernetes types above, and copies them to helm/install/crds/; copies
        the RBAC rules of config/rbac/cluster/role.yaml into the Helm chart.

    hack/gen-api.py images
        Writes the image references found in images/versions.env (or
        placeholders when that file does not exist yet) into the places that
        name images: config/manager/manager.yaml (and its copy in
        kustomize/install/manager), the kustomize installs, the Helm values
        and the example PostgresClusters.

    hack/gen-api.py all       kube-types (only with --openapi-dir), crds, images
    hack/gen-api.py check [--openapi-dir DIR]
        Regenerates everything in memory and exits 1 when a committed file
        differs from what it should be (compared as data, not as text). With
        --openapi-dir (or a reachable API server when --live is given) the
        Kubernetes types are checked too.
    hack/gen-api.py stats     counts of fields and rules, for reports

Source format (config/crd/src/*.yaml): a CRD description with `schema:` in
OpenAPI v3 form plus three extensions the generator expands:
    $kube: NAME      the Kubernetes type NAME (for example ResourceRequirements
                     or meta.v1.Condition), inlined; sibling keys override its
                     description and add validations
    $use: NAME       a definition from the source's `definitions:` section
    x-kubernetes-validations are kept as written.

Needs Python 3 with PyYAML (Debian: python3-yaml).
"""

import argparse
import copy
import json
import os
import re
import subprocess
import sys

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("gen-api.py needs PyYAML: apt-get install python3-yaml (or pip install pyyaml)")

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
KUBE_VERSION = os.environ.get("KUBE_VERSION", "1.35.4")
KUBE_TYPES = os.path.join(ROOT, "config/crd/kubernetes/types.yaml")
SRC_DIR = os.path.join(ROOT, "config/crd/src")
BASES_DIR = os.path.join(ROOT, "config/crd/bases")
HELM_CRDS_DIR = os.path.join(ROOT, "helm/install/crds")
GROUP = "postgres-operator.crunchydata.com"

# The OpenAPI documents that hold the types we embed.
OPENAPI_DOCS = {
    "api-v1.json": "/openapi/v3/api/v1",
    "apis-policy-v1.json": "/openapi/v3/apis/policy/v1",  # meta.v1.Condition
}

# Kubernetes' own canonical pattern for resource.Quantity strings.
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|"
    r"([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)

# Keys of the OpenAPI documents that a CRD schema cannot carry, or that only
# matter to strategic merge patch.
DROPPED_KEYS = {
    "x-kubernetes-patch-strategy",
    "x-kubernetes-patch-merge-key",
    "x-kubernetes-unions",
    "x-kubernetes-group-version-kind",
}


class GenError(Exception):
    pass


# ---------------------------------------------------------------------------
# YAML output


class _Dumper(yaml.SafeDumper):
    pass


def _str_representer(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def dump_yaml(doc, header=None):
    text = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)
    out = ""
    if header:
        out += "".join("# " + line + "\n" if line else "#\n" for line in header.splitlines())
    return out + "---\n" + text


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def write_if_changed(path, text):
    old = None
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            old = f.read()
    if old != text:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        print("wrote", os.path.relpath(path, ROOT))


# ---------------------------------------------------------------------------
# Kubernetes types


def fetch_openapi(openapi_dir):
    """Returns {schema name: schema} from the documents in OPENAPI_DOCS."""
    schemas = {}
    for filename, path in OPENAPI_DOCS.items():
        if openapi_dir:
            with open(os.path.join(openapi_dir, filename), encoding="utf-8") as f:
                doc = json.load(f)
        else:
            kubectl = os.environ.get("KUBECTL", "kubectl")
            raw = subprocess.run([kubectl, "get", "--raw", path], check=True, capture_output=True)
            doc = json.loads(raw.stdout)
        for name, schema in doc["components"]["schemas"].items():
            schemas.setdefault(name, schema)
    return schemas


def _ref_name(ref):
    return ref.rsplit("/", 1)[-1]


def convert_kube(node, name=""):
    """Converts one OpenAPI v3 schema node into CRD structural form. References
    stay as {"$ref": NAME} and are inlined when a CRD is built."""
    if name == "io.k8s.apimachinery.pkg.api.resource.Quantity":
        return {
            "description": node.get("description", ""),
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            "x-kubernetes-int-or-string": True,
        }
    if name == "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
        return {
            "description": node.get("description", ""),
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "x-kubernetes-int-or-string": True,
        }
    if "$ref" in node:
        return {"$ref": _ref_name(node["$ref"])}
    out = {}
    if "allOf" in node:
        if len(node["allOf"]) != 1 or "$ref" not in node["allOf"][0]:
            raise GenError(f"{name}: allOf other than a single $ref is not supported")
        out["$ref"] = _ref_name(node["allOf"][0]["$ref"])
    if "oneOf" in node or "anyOf" in node:
        raise GenError(f"{name}: oneOf/anyOf is not supported here")
    for key, value in node.items():
        if key in DROPPED_KEYS or key == "allOf":
            continue
        if key == "default":
            # Kubernetes publishes zero values as defaults; in a CRD they
            # would be written into every object. Keep only real defaults
            # (the TCP protocol of a container port, a list-map key).
            if value in ("", 0, {}, [], False, None) or "$ref" in out:
                continue
            out[key] = value
        elif key == "properties":
            out[key] = {k: convert_kube(v, f"{name}.{k}") for k, v in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = convert_kube(value, f"{name}[]")
        elif key == "format" and value == "int-or-string":
            continue
        else:
            out[key] = copy.deepcopy(value)
    return out


def kube_closure(schemas, roots):
    """Names of the roots and of every schema they reference."""
    seen = set()

    def visit(name):
        if name in seen:
            return
        if name not in schemas:
            raise GenError(f"the OpenAPI documents have no schema {name}")
        seen.add(name)

        def walk(o):
            if isinstance(o, dict):
                for k, v in o.items():
                    if k == "$ref":
                        visit(_ref_name(v))
                    else:
                        walk(v)
            elif isinstance(o, list):
                for v in o:
                    walk(v)

        walk(schemas[name])

    for r in roots:
        visit(r)
    return seen


def resolve_kube_name(short, names):
    """Maps a name used in a source ($kube: X) to an OpenAPI schema name."""
    if short in names:
        return short
    candidates = [n for n in names if n.endswith("." + short)]
    core = [n for n in candidates if n.startswith("io.k8s.api.core.v1.")]
    if len(core) == 1:
        return core[0]
    if len(candidates) == 1:
        return candidates[0]
    raise GenError(f"$kube: {short} matches {len(candidates)} Kubernetes types: {candidates[:5]}")


def source_kube_refs(source):
    refs = set()

    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                if k == "$kube":
                    refs.add(v)
                else:
                    walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    walk(source)
    return refs


def load_sources():
    out = {}
    for fn in sorted(os.listdir(SRC_DIR)):
        if fn.endswith(".yaml"):
            out[fn] = load_yaml(os.path.join(SRC_DIR, fn))
    return out


def build_kube_types(openapi_dir):
    schemas = fetch_openapi(openapi_dir)
    names = set(schemas)
    roots = set()
    for src in load_sources().values():
        for short in source_kube_refs(src):
            roots.add(resolve_kube_name(short, names))
    closure = kube_closure(schemas, roots)
    types = {n: convert_kube(schemas[n], n) for n in sorted(closure)}
    return {
        "kubernetesVersion": KUBE_VERSION,
        "sources": sorted(OPENAPI_DOCS.values()),
        "roots": sorted(roots),
        "types": types,
    }


KUBE_TYPES_HEADER = f"""Generated by hack/gen-api.py kube-types from the OpenAPI v3 documents that
kube-apiserver v{KUBE_VERSION} serves. These are Kubernetes' own schemas of the core
types our CRDs embed, converted to CRD structural form: references kept by
name, zero-value defaults and strategic-merge-patch keys dropped, Quantity and
IntOrString written as int-or-string. Do not edit; regenerate."""


# ---------------------------------------------------------------------------
# CRDs


def expand(node, kube, definitions, path="schema", stack=()):
    """Returns node with $kube, $use and Kubernetes $ref inlined."""
    if isinstance(node, list):
        return [expand(v, kube, definitions, f"{path}[{i}]", stack) for i, v in enumerate(node)]
    if not isinstance(node, dict):
        return node
    base = None
    if "$kube" in node:
        name = resolve_kube_name(node["$kube"], set(kube))
        base = expand_kube(name, kube, stack)
    elif "$use" in node:
        name = node["$use"]
        if name not in definitions:
            raise GenError(f"{path}: $use: {name} is not in definitions")
        if name in stack:
            raise GenError(f"{path}: definition {name} refers to itself")
        base = expand(definitions[name], kube, definitions, f"definitions.{name}", stack + (name,))
    out = copy.deepcopy(base) if base is not None else {}
    for key, value in node.items():
        if key == "$optional":
            for field_path, note in value.items():
                make_optional(out, field_path, note, path)
            continue
        if key in ("$kube", "$use"):
            continue
        if key == "x-kubernetes-validations" and "x-kubernetes-validations" in out:
            out[key] = out[key] + copy.deepcopy(value)
        elif key in ("properties",) and key in out:
            merged = dict(out[key])
            for k, v in value.items():
                merged[k] = expand(v, kube, definitions, f"{path}.{k}", stack)
            out[key] = merged
        elif key == "properties":
            out[key] = {k: expand(v, kube, definitions, f"{path}.{k}", stack) for k, v in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = expand(value, kube, definitions, f"{path}[]", stack)
        else:
            out[key] = copy.deepcopy(value)
    return out


def make_optional(node, field_path, note, where):
    """$optional: {"a.b[].c": note}: field c, required in the embedded type,
    may be left out here (the operator fills it in); note is appended to its
    description."""
    parts = field_path.split(".")
    for part in parts[:-1]:
        many = part.endswith("[]")
        node = node.get("properties", {}).get(part.rstrip("[]"))
        if node is None:
            raise GenError(f"{where}: $optional: no field {part} in {field_path}")
        if many:
            node = node["items"]
    last = parts[-1]
    if last not in node.get("required", []) or last not in node.get("properties", {}):
        raise GenError(f"{where}: $optional: {field_path} is not a required field")
    node["required"] = [r for r in node["required"] if r != last]
    if not node["required"]:
        del node["required"]
    field = node["properties"][last]
    field["description"] = (field.get("description", "").rstrip() + " " + note).strip()


def expand_kube(name, kube, stack=()):
    if name in stack:
        raise GenError(f"Kubernetes type {name} is recursive")
    node = copy.deepcopy(kube[name])

    def walk(o):
        if isinstance(o, dict):
            if "$ref" in o:
                ref = o.pop("$ref")
                inner = expand_kube(ref, kube, stack + (name,))
                for k, v in o.items():
                    inner[k] = v  # the referring property's description wins
                return inner
            return {k: walk(v) for k, v in o.items()}
        if isinstance(o, list):
            return [walk(v) for v in o]
        return o

    return walk(node)


def sort_schema(node):
    """Sorts properties by name, recursively, for stable output."""
    if isinstance(node, list):
        return [sort_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k == "properties":
            out[k] = {pk: sort_schema(node[k][pk]) for pk in sorted(node[k])}
        elif k in ("x-kubernetes-validations", "enum", "required", "x-kubernetes-list-map-keys"):
            out[k] = copy.deepcopy(v)
        else:
            out[k] = sort_schema(v)
    return out


def check_structural(node, path="openAPIV3Schema", is_property=False):
    """Catches the mistakes the API server would reject, with a path, and
    fields without a description."""
    if not isinstance(node, dict):
        raise GenError(f"{path}: not a schema")
    if "$ref" in node or "$kube" in node or "$use" in node:
        raise GenError(f"{path}: unexpanded reference")
    t = node.get("type")
    if t is None and not node.get("x-kubernetes-int-or-string") and not node.get(
        "x-kubernetes-preserve-unknown-fields"
    ):
        raise GenError(f"{path}: no type")
    if is_property and not node.get("description") and path != "openAPIV3Schema.metadata":
        raise GenError(f"{path}: no description")
    for k, v in node.get("properties", {}).items():
        check_structural(v, f"{path}.{k}", True)
    if isinstance(node.get("items"), dict):
        check_structural(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        check_structural(node["additionalProperties"], f"{path}{{}}")
    for req in node.get("required", []):
        if req not in node.get("properties", {}):
            raise GenError(f"{path}: required field {req} is not a property")


def build_crd(source, kube):
    definitions = source.get("definitions", {})
    schema = expand(source["schema"], kube, definitions)
    schema = sort_schema(schema)
    check_structural(schema)
    names = {
        "kind": source["kind"],
        "listKind": source["kind"] + "List",
        "plural": source["plural"],
        "singular": source["singular"],
    }
    if source.get("categories"):
        names["categories"] = source["categories"]
    if source.get("shortNames"):
        names["shortNames"] = source["shortNames"]
    version = {
        "name": source.get("version", "v1beta1"),
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": schema},
        "subresources": {"status": {}},
    }
    if source.get("printerColumns"):
        version["additionalPrinterColumns"] = source["printerColumns"]
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{source['plural']}.{GROUP}",
        },
        "spec": {
            "group": GROUP,
            "names": names,
            "scope": "Namespaced",
            "versions": [version],
        },
    }
    return crd


def crd_filename(source):
    return f"{GROUP}_{source['plural']}.yaml"


def crd_header(srcname):
    return (
        f"Generated by hack/gen-api.py crds from config/crd/src/{srcname} (our fields,\n"
        f"descriptions and rules) and config/crd/kubernetes/types.yaml (the Kubernetes\n"
        f"v{KUBE_VERSION} types we embed). Do not edit; change the source and regenerate."
    )


def generate_crds():
    kube = load_yaml(KUBE_TYPES)["types"]
    out = {}
    for srcname, source in load_sources().items():
        crd = build_crd(source, kube)
        text = dump_yaml(crd, crd_header(srcname))
        fn = crd_filename(source)
        out[os.path.join(BASES_DIR, fn)] = text
        out[os.path.join(HELM_CRDS_DIR, fn)] = text
    return out


# ---------------------------------------------------------------------------
# Helm RBAC rules


def generate_helm_rules():
    """The chart's rules are those of config/rbac/cluster/role.yaml, with
    their comments, so that the two installs cannot drift apart."""
    src = os.path.join(ROOT, "config/rbac/cluster/role.yaml")
    with open(src, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^rules:\n(.*)\Z", text, flags=re.M | re.S)
    if not m:
        raise GenError(f"{src}: no rules: section at the end")
    rules = m.group(1).rstrip("\n")
    out = (
        "{{/*\n"
        "Generated by hack/gen-api.py crds from config/rbac/cluster/role.yaml: the\n"
        "operator's permissions, each with the reason for it. Do not edit; edit\n"
        "that file and regenerate.\n"
        "*/}}\n"
        '{{- define "pgo.rules" -}}\n' + rules + "\n{{- end }}\n"
    )
    return {os.path.join(ROOT, "helm/install/templates/_rules.tpl"): out}


# ---------------------------------------------------------------------------
# Images

VERSIONS_ENV = os.path.join(ROOT, "images/versions.env")

# images/versions.env key -> (RELATED_IMAGE_ suffix, placeholder used until
# the file exists). The operator image is the Deployment's own.
IMAGE_KEYS = [
    ("POSTGRES_17_IMAGE", "POSTGRES_17", "localhost/postgres:17-dev"),
    ("POSTGRES_18_IMAGE", "POSTGRES_18", "localhost/postgres:18-dev"),
    ("PGBACKREST_IMAGE", "PGBACKREST", "localhost/pgbackrest:dev"),
    ("PGBOUNCER_IMAGE", "PGBOUNCER", "localhost/pgbouncer:dev"),
    ("POSTGRES_EXPORTER_IMAGE", "PGEXPORTER", "localhost/postgres-exporter:dev"),
    ("PGADMIN_IMAGE", "PGADMIN", "localhost/pgadmin:dev"),
    ("UPGRADE_IMAGE", "PGUPGRADE", "localhost/upgrade:dev"),
]
OPERATOR_KEY = ("OPERATOR_IMAGE", "localhost/postgres-operator:dev")


MANAGER_COPY_HEADER = """\
# Copied from config/manager/manager.yaml by hack/gen-api.py images. In your
# own copy of this tree, edit this file (for example CRUNCHY_DEBUG) or patch
# the Deployment from kustomization.yaml beside it; in this repository, edit
# config/manager/manager.yaml and regenerate.
#
"""


def read_versions_env():
    """Returns (values, found). Shell-style KEY=VALUE lines; ${VAR} expanded
    against earlier keys; quotes stripped."""
    values = {}
    if not os.path.exists(VERSIONS_ENV):
        return values, False
    with open(VERSIONS_ENV, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            line = re.sub(r"^export\s+", "", line)
            m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
            if not m:
                continue
            key, value = m.group(1), m.group(2).strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            value = re.sub(
                r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda mm: values.get(mm.group(1), ""), value
            )
            values[key] = value
    return values, True


def image_table():
    values, found = read_versions_env()
    related = []
    for key, suffix, placeholder in IMAGE_KEYS:
        image = values.get(key)
        if image is None and key == "PGBACKREST_IMAGE":
            # pgBackRest ships inside the Postgres images when there is no
            # image of its own.
            image = values.get("POSTGRES_18_IMAGE") or values.get("POSTGRES_17_IMAGE")
        related.append((suffix, image or placeholder))
    operator = values.get(OPERATOR_KEY[0]) or OPERATOR_KEY[1]
    return related, operator, found


def split_image(ref):
    """localhost/postgres-operator:1.2 -> (localhost/postgres-operator, 1.2)."""
    name, _, tag = ref.rpartition(":")
    if not name or "/" in tag:
        return ref, ""
    return name, tag


def _replace_env_values(text, related):
    for suffix, image in related:
        text = re.sub(
            r"(- name: RELATED_IMAGE_%s\n(\s+)value: )\"?[^\"\n]*\"?" % re.escape(suffix),
            lambda m: m.group(1) + '"' + image + '"',
            text,
        )
    return text


def generate_images():
    related, operator, _ = image_table()
    out = {}
    by_suffix = dict(related)

    path = os.path.join(ROOT, "config/manager/manager.yaml")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            manager = _replace_env_values(f.read(), related)
        out[path] = manager
        # The seed tells users to edit kustomize/install/manager/manager.yaml,
        # and to patch the Deployment from the kustomization beside it; so
        # the install carries the Deployment itself, copied from config/.
        out[os.path.join(ROOT, "kustomize/install/manager/manager.yaml")] = MANAGER_COPY_HEADER + manager

    name, tag = split_image(operator)
    for inst in ("default", "singlenamespace"):
        path = os.path.join(ROOT, "kustomize/install", inst, "kustomization.yaml")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                text = f.read()
            text = re.sub(r"(  newName: ).*", lambda m: m.group(1) + name, text)
            text = re.sub(r"(  newTag: ).*", lambda m: m.group(1) + '"' + tag + '"', text)
            out[path] = text

    path = os.path.join(ROOT, "helm/install/values.yaml")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        text = re.sub(r"(\n  cluster: ).*", lambda m: m.group(1) + operator, text)
        for suffix, image in related:
            text = re.sub(
                r"(\n  %s:\n    image: ).*" % re.escape(suffix.lower()),
                lambda m: m.group(1) + image,
                text,
            )
        out[path] = text

    # Example PostgresClusters and PGUpgrades: a line ending in
    # "# image: KEY" is set to that image.
    for base in ("kustomize",):
        for dirpath, _, files in os.walk(os.path.join(ROOT, base)):
            if "/install" in dirpath:
                continue
            for fn in files:
                if not fn.endswith((".yaml", ".yml")):
                    continue
                path = os.path.join(dirpath, fn)
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                if "# image: " not in text:
                    continue

                def sub(m):
                    key = m.group(3)
                    image = by_suffix.get(key)
                    if image is None:
                        raise GenError(f"{path}: unknown image key {key}")
                    return f"{m.group(1)}{image}{m.group(2)}# image: {key}"

                out[path] = re.sub(r"^(\s*(?:- )?\w+: )\S*(\s+)# image: (\w+)$", sub, text, flags=re.M)
    return out


# ---------------------------------------------------------------------------
# Counting, for reports


def stats():
    kube = load_yaml(KUBE_TYPES)["types"]
    for srcname, source in load_sources().items():
        own = [0]
        rules = [0]

        def walk(o):
            if isinstance(o, dict):
                if "properties" in o:
                    own[0] += len(o["properties"])
                rules[0] += len(o.get("x-kubernetes-validations", []))
                for k, v in o.items():
                    walk(v)
            elif isinstance(o, list):
                for v in o:
                    walk(v)

        # our own fields: count in the source with definitions expanded once
        # per use but Kubernetes types left out
        expanded = expand_without_kube(source)
        walk(expanded)
        crd = build_crd(source, kube)
        total = [0]
        total_rules = [0]

        def walk_all(o):
            if isinstance(o, dict):
                if "properties" in o:
                    total[0] += len(o["properties"])
                total_rules[0] += len(o.get("x-kubernetes-validations", []))
                for v in o.values():
                    walk_all(v)
            elif isinstance(o, list):
                for v in o:
                    walk_all(v)

        walk_all(crd["spec"]["versions"][0]["schema"])
        size = len(json.dumps(crd, separators=(",", ":")))
        print(
            f"{srcname}: {own[0]} fields of ours, {total[0]} fields in all "
            f"(with embedded Kubernetes types), {total_rules[0]} CEL rules, "
            f"{size // 1024} KiB as JSON"
        )


def expand_without_kube(source):
    definitions = source.get("definitions", {})

    def ex(node):
        if isinstance(node, list):
            return [ex(v) for v in node]
        if not isinstance(node, dict):
            return node
        out = {}
        if "$use" in node:
            out = ex(definitions[node["$use"]])
        for k, v in node.items():
            if k in ("$use", "$kube", "$optional"):
                continue
            if k == "properties" and "properties" in out:
                out[k] = {**out[k], **{pk: ex(pv) for pk, pv in v.items()}}
            elif k == "x-kubernetes-validations" and k in out:
                out[k] = out[k] + v
            else:
                out[k] = ex(v)
        return out

    return ex(source["schema"])


# ---------------------------------------------------------------------------


def parse_committed(path):
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith((".yaml", ".yml")):
        try:
            return list(yaml.safe_load_all(text))
        except yaml.YAMLError:
            return text
    return text


def compare(expected):
    """expected: {path: text}. Returns the paths whose content differs."""
    bad = []
    for path, text in sorted(expected.items()):
        have = parse_committed(path)
        if path.endswith((".yaml", ".yml")) and not isinstance(have, str):
            want = list(yaml.safe_load_all(text))
        else:
            want = text
        if have != want:
            bad.append(os.path.relpath(path, ROOT))
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["kube-types", "crds", "images", "all", "check", "stats"])
    ap.add_argument("--openapi-dir", help="read the OpenAPI documents from files in DIR")
    ap.add_argument("--live", action="store_true", help="check: read the types from the API server")
    args = ap.parse_args()
    try:
        if args.command in ("kube-types",) or (args.command == "all" and args.openapi_dir):
            types = build_kube_types(args.openapi_dir)
            write_if_changed(KUBE_TYPES, dump_yaml(types, KUBE_TYPES_HEADER))
        if args.command in ("crds", "all"):
            for path, text in {**generate_crds(), **generate_helm_rules()}.items():
                write_if_changed(path, text)
        if args.command in ("images", "all"):
            for path, text in generate_images().items():
                write_if_changed(path, text)
        if args.command == "stats":
            stats()
        if args.command == "check":
            expected = {}
            if args.openapi_dir or args.live:
                expected[KUBE_TYPES] = dump_yaml(build_kube_types(args.openapi_dir), KUBE_TYPES_HEADER)
            expected.update(generate_crds())
            expected.update(generate_helm_rules())
            expected.update(generate_images())
            bad = compare(expected)
            if bad:
                print("out of date (run hack/gen-api.py all):", *bad, sep="\n  ")
                return 1
            print("generated files are up to date")
    except (GenError, subprocess.CalledProcessError, OSError) as e:
        print(f"gen-api.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
