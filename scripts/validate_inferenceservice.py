"""Validates a KServe InferenceService manifest against the KServe SDK's own models of it (generated from the CRD's
OpenAPI schema), which refer to the Kubernetes client's models for pod fields: every key must be a field of its
type, every value of the field's type, and every required field present.

Usage: python scripts/validate_inferenceservice.py deploy/kserve-inferenceservice.yaml
"""
import datetime
import re
import sys

import kserve.models
import kubernetes.client.models
import yaml

PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float), "object": object,
              "datetime": (str, datetime.datetime), "date": (str, datetime.date)}


def model(name):
    for module in (kserve.models, kubernetes.client.models):
        if hasattr(module, name):
            return getattr(module, name)
    raise SystemExit(f"no model named {name}")


def check(value, kind, path, errors):
    if (m := re.fullmatch(r"[Ll]ist\[(.+)\]", kind)):
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list")
            return
        for i, item in enumerate(value):
            check(item, m.group(1), f"{path}[{i}]", errors)
    elif (m := re.fullmatch(r"dict\(str, (.+)\)|Dict\[str, (.+)\]", kind)):
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a map")
            return
        for key, item in value.items():
            check(item, m.group(1) or m.group(2), f"{path}.{key}", errors)
    elif kind in PRIMITIVES:
        if not isinstance(value, PRIMITIVES[kind]) or (kind == "int" and isinstance(value, bool)):
            errors.append(f"{path}: expected {kind}, got {type(value).__name__}")
    else:
        cls = model(kind)
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a {kind} object")
            return
        fields = {json_key: attribute for attribute, json_key in cls.attribute_map.items()}
        for key, item in value.items():
            if key not in fields:
                errors.append(f"{path}.{key}: not a field of {kind}")
            else:
                check(item, cls.openapi_types[fields[key]], f"{path}.{key}", errors)
        try:  # the models' setters refuse a missing required field
            cls(**{fields[k]: v for k, v in value.items() if k in fields})
        except (ValueError, TypeError) as error:
            errors.append(f"{path}: {error}")


def main(path):
    with open(path) as f:
        document = yaml.safe_load(f)
    errors = []
    if document.get("apiVersion") != "serving.kserve.io/v1beta1" or document.get("kind") != "InferenceService":
        errors.append("apiVersion/kind: expected serving.kserve.io/v1beta1 InferenceService")
    check(document, "V1beta1InferenceService", "", errors)
    predictor = document.get("spec", {}).get("predictor", {})
    if not predictor.get("containers"):
        errors.append("spec.predictor: a custom predictor needs containers")
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        raise SystemExit(f"{path}: {len(errors)} problems")
    print(f"{path}: a valid InferenceService")


if __name__ == "__main__":
    main(sys.argv[1])
