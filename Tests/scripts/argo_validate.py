"""Validates a workflow from `kiln nightly --emit argo` (run by NightlyArgoTests from the venv).

1. Argo's Workflow schema: no PyPI package ships Argo's api/jsonschema/schema.json, but hera
   (PyPI) ships Argo's models generated from it; their JSON schema is written to a temporary file
   and `check-jsonschema --schemafile` checks the workflow against it.
2. Unknown fields: the same schema with `additionalProperties: false` on every object that lists
   its properties (Argo's schema allows unknown fields, so a typo like `entrypont` passes step 1).
3. `kubernetes-validate --strict` on a Pod holding each template's container (parameters replaced
   by the first task's values), for the pod fields Argo passes through to Kubernetes.
Each check is also run on a broken copy and must fail there, so none can pass vacuously.
Usage: argo_validate.py WORKFLOW.json SCRATCH_DIR; prints one line per check; exit 0 when all hold.
"""
import copy
import json
import os
import re
import subprocess
import sys

from hera.workflows.models.io.argoproj.workflow.v1alpha1 import Workflow

wf_path, scratch = sys.argv[1], sys.argv[2]
os.makedirs(scratch, exist_ok=True)
bindir = os.path.dirname(sys.executable)
wf = json.load(open(wf_path))


def write(name, doc):
    p = os.path.join(scratch, name)
    with open(p, "w") as f:
        json.dump(doc, f)
    return p


def run(tool, *args):
    r = subprocess.run([os.path.join(bindir, tool), *args], capture_output=True, text=True)
    return r.returncode, (r.stdout + r.stderr).strip()


schema = Workflow.model_json_schema(by_alias=True)
strict = copy.deepcopy(schema)
for d in [strict, *strict.get("$defs", {}).values()]:
    if "properties" in d and "additionalProperties" not in d:
        d["additionalProperties"] = False
schema_path, strict_path = write("argo-schema.json", schema), write("argo-schema-strict.json", strict)

broken_type = copy.deepcopy(wf)
broken_type["spec"]["templates"][0]["dag"]["tasks"] = "not-a-list"
typo = copy.deepcopy(wf)
typo["spec"]["entrypont"] = typo["spec"].pop("entrypoint")

failures = 0


def expect(label, code, out, ok):
    global failures
    good = (code == 0) == ok
    failures += 0 if good else 1
    print(f"{'ok  ' if good else 'FAIL'} {label}: exit {code}" + ("" if good else f"\n{out[-1500:]}"))


c, o = run("check-jsonschema", "--schemafile", schema_path, wf_path)
expect("argo schema accepts the workflow", c, o, True)
c, o = run("check-jsonschema", "--schemafile", schema_path, write("broken-type.json", broken_type))
expect("argo schema rejects dag.tasks as a string", c, o, False)
c, o = run("check-jsonschema", "--schemafile", strict_path, wf_path)
expect("no unknown fields", c, o, True)
c, o = run("check-jsonschema", "--schemafile", schema_path, write("typo.json", typo))
expect("(argo schema alone accepts the typo entrypont)", c, o, True)
c, o = run("check-jsonschema", "--schemafile", strict_path, write("typo.json", typo))
expect("unknown-field check rejects entrypont", c, o, False)

tasks = wf["spec"]["templates"][0]["dag"]["tasks"]
for t in wf["spec"]["templates"]:
    if "container" not in t:
        continue
    task = next(x for x in tasks if x["template"] == t["name"])
    values = {p["name"]: p["value"] for p in task["arguments"]["parameters"]}
    values.update({"workflow.parameters." + p["name"]: p["value"] for p in wf["spec"]["arguments"]["parameters"]})
    text = json.dumps(t["container"])
    text = re.sub(r"\{\{inputs\.parameters\.([\w-]+)\}\}", lambda m: values[m.group(1)], text)
    text = re.sub(r"\{\{(workflow\.parameters\.[\w-]+)\}\}", lambda m: values[m.group(1)], text)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kiln-" + t["name"]},
           "spec": {"restartPolicy": "Never", "containers": [json.loads(text)]}}
    c, o = run("kubernetes-validate", "--strict", write(f"pod-{t['name']}.json", pod))
    expect(f"kubernetes-validate --strict: template {t['name']} as a Pod", c, o, True)
    pod["spec"]["containers"][0]["restartPolicyy"] = "Never"
    c, o = run("kubernetes-validate", "--strict", write(f"pod-{t['name']}-typo.json", pod))
    expect(f"kubernetes-validate --strict rejects restartPolicyy in {t['name']}", c, o, False)

sys.exit(1 if failures else 0)
