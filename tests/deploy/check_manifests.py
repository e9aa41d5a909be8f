#!/usr/bin/python3
"""The deployment files as a cluster and an operator would meet them.

Renders every Kubernetes overlay with `kubectl kustomize`, checks the style of
every YAML file with yamllint, checks the rendered objects for what a
production cluster asks of them (numeric non-root users, read-only roots,
dropped capabilities, seccomp, probes on the right paths, resource requests,
Secrets that exist, NATS with JetStream in three replicas, a sandbox with
hypopg), and has the engine load each engine's rendered config with the
environment its pod gets.

Run by ctest ("deploy: kubernetes manifests") with Debian's python3 and
python3-yaml: python3 check_manifests.py --engine BIN --source DIR
"""

import argparse
import base64
import os
import re
import subprocess
import sys
import tempfile

import yaml

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
    return ok


def render(source, overlay):
    out = subprocess.run(["kubectl", "kustomize", os.path.join(source, "k8s", "overlays", overlay)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"kubectl kustomize k8s/overlays/{overlay} failed:\n{out.stderr}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def find(objs, kind, name):
    for o in objs:
        if o["kind"] == kind and o["metadata"]["name"] == name:
            return o
    return None


def secret_names(objs):
    return {o["metadata"]["name"] for o in objs if o["kind"] == "Secret"}


def check_pod(where, pod, secrets, configmaps):
    """What a restricted Pod Security Standard and an SRE ask of every workload."""
    sc = pod.get("securityContext", {})
    check(sc.get("runAsNonRoot") is True, f"{where}: runAsNonRoot")
    check(isinstance(sc.get("runAsUser"), int) and sc["runAsUser"] > 0,
          f"{where}: a numeric non-root runAsUser (the kubelet verifies only numbers)")
    check(sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{where}: seccomp RuntimeDefault")
    check(pod.get("automountServiceAccountToken") is False, f"{where}: no service account token")
    for c in pod["containers"]:
        cw = f"{where}/{c['name']}"
        csc = c.get("securityContext", {})
        check(csc.get("allowPrivilegeEscalation") is False, f"{cw}: allowPrivilegeEscalation false")
        check(csc.get("readOnlyRootFilesystem") is True, f"{cw}: read-only root filesystem")
        check(csc.get("capabilities", {}).get("drop") == ["ALL"], f"{cw}: capabilities dropped")
        req = c.get("resources", {}).get("requests", {})
        check("cpu" in req and "memory" in req, f"{cw}: cpu and memory requests")
        check("memory" in c.get("resources", {}).get("limits", {}), f"{cw}: a memory limit")
        check("readinessProbe" in c and "livenessProbe" in c, f"{cw}: readiness and liveness probes")
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                check(ref["name"] in secrets, f"{cw}: env {e['name']} names Secret {ref['name']}, not rendered")
    for v in pod.get("volumes", []):
        if "secret" in v:
            check(v["secret"]["secretName"] in secrets, f"{where}: volume {v['name']}'s Secret is rendered")
            check(v["secret"].get("defaultMode", 0o644) & 0o007 == 0, f"{where}: Secret {v['name']} not world-readable")
        if "configMap" in v:
            check(v["configMap"]["name"] in configmaps, f"{where}: volume {v['name']}'s ConfigMap is rendered")


def probe_path(c, probe):
    return c.get(probe, {}).get("httpGet", {}).get("path")


def check_engine(objs, overlay):
    where = f"{overlay}: StatefulSet optischema"
    sts = find(objs, "StatefulSet", "optischema")
    if not check(sts is not None, f"{overlay}: the engines run as a StatefulSet"):
        return None
    pod = sts["spec"]["template"]["spec"]
    c = pod["containers"][0]
    check(probe_path(c, "readinessProbe") == "/health/ready", f"{where}: readiness on /health/ready")
    check(probe_path(c, "livenessProbe") == "/health/live", f"{where}: liveness on /health/live")
    check(probe_path(c, "startupProbe") == "/health/live", f"{where}: a startup probe")
    check({"name": "http", "containerPort": 8080} in c["ports"], f"{where}: port named http (ServiceMonitor)")
    claims = [t["metadata"]["name"] for t in sts["spec"].get("volumeClaimTemplates", [])]
    check("data" in claims, f"{where}: history on a PersistentVolumeClaim")
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    check(mounts.get("data") == env.get("OPTISCHEMA_DATA_DIR"), f"{where}: the data dir is the volume")
    check("/tmp" in mounts.values(), f"{where}: a writable /tmp beside the read-only root")
    check(env.get("OPTISCHEMA_NATS_URL", "").startswith("nats://nats:"), f"{where}: NATS by its Service")
    check("PGPASSFILE" in env, f"{where}: passwords by reference (PGPASSFILE)")
    svc = find(objs, "Service", "optischema")
    check(svc is not None and svc["spec"]["ports"][0]["targetPort"] == "http", f"{overlay}: a Service on port http")
    return sts


def check_nats(objs, overlay):
    where = f"{overlay}: NATS"
    sts = find(objs, "StatefulSet", "nats")
    if not check(sts is not None, f"{where}: a StatefulSet"):
        return
    check(sts["spec"]["replicas"] == 3, f"{where}: three replicas (JetStream R3)")
    c = sts["spec"]["template"]["spec"]["containers"][0]
    check(re.match(r"^nats:\d", c["image"]) is not None, f"{where}: the official image")
    conf = find(objs, "ConfigMap", "nats-config")["data"]["nats.conf"]
    check("jetstream" in conf, f"{where}: JetStream on")
    routes = re.findall(r"nats://(nats-\d+)\.nats-cluster:6222", conf)
    check(routes == [f"nats-{i}" for i in range(sts["spec"]["replicas"])], f"{where}: a route to each replica")
    check(find(objs, "Service", "nats-cluster")["spec"].get("clusterIP") == "None", f"{where}: headless routes")
    check(any(t["metadata"]["name"] == "data" for t in sts["spec"]["volumeClaimTemplates"]), f"{where}: a store volume")


def check_sandbox(objs, overlay, source):
    where = f"{overlay}: sandbox"
    dep = find(objs, "Deployment", "optischema-sandbox")
    if not check(dep is not None, f"{where}: a Deployment"):
        return
    image = dep["spec"]["template"]["spec"]["containers"][0]["image"]
    # The image docker-compose builds from docker/postgres, whose Dockerfile installs hypopg.
    with open(os.path.join(source, "docker-compose.sandbox.yml")) as f:
        compose = yaml.safe_load(f)["services"]["sandbox"]
    check(image == compose["image"] and compose["build"] == "docker/postgres", f"{where}: the hypopg image")
    with open(os.path.join(source, "docker", "postgres", "Dockerfile")) as f:
        check("postgresql-15-hypopg" in f.read(), f"{where}: docker/postgres installs hypopg")


def check_config_loads(engine, overlay, sts, objs):
    """The engine loads the rendered config with the environment its pods get."""
    where = f"{overlay}: engine config"
    pod = sts["spec"]["template"]["spec"]
    secret = next(v["secret"]["secretName"] for v in pod["volumes"] if v["name"] == "config")
    data = {k: base64.b64decode(v).decode() for k, v in find(objs, "Secret", secret)["data"].items()}
    args = pod["containers"][0]["args"]
    name = os.path.basename(args[args.index("--config") + 1])
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"] if "value" in e}
    # Kubernetes expands $(VAR) from the variables before it; POD_NAME is a field reference.
    env = {k: v.replace("$(POD_NAME)", "optischema-0") for k, v in env.items()}
    pgpass = [line.split(":") for line in data.get("pgpass", "").splitlines() if line and not line.startswith("#")]
    check(pgpass and all(len(x) == 5 for x in pgpass), f"{where}: pgpass lines have five fields")
    check(len(data.get("api-token", "")) >= 16, f"{where}: an API token of 16 characters or more")
    if not check(name in data, f"{where}: {name} is in the Secret"):
        return
    text = data[name]
    check(not re.search(r"://[^@/\s]*:[^@/\s]*@", text), f"{where}: {name} holds no password")
    # A targets file from a ConfigMap volume: mounted whole (kubelet never updates a subPath), no
    # passwords in it, and its targets checked with the config's.
    targets_text = None
    targets_path = env.get("OPTISCHEMA_TARGETS_FILE")
    if targets_path:
        c = pod["containers"][0]
        mount = next((m for m in c["volumeMounts"] if targets_path.startswith(m["mountPath"] + "/")), None)
        vol = mount and next((v for v in pod["volumes"] if v["name"] == mount["name"]), None)
        if check(vol and "configMap" in vol, f"{where}: the targets file is a ConfigMap volume"):
            check("subPath" not in mount, f"{where}: the targets ConfigMap is mounted whole, so it updates")
            cm = find(objs, "ConfigMap", vol["configMap"]["name"])
            targets_text = cm["data"].get(os.path.basename(targets_path), "")
            check(not re.search(r"://[^@/\s]*:[^@/\s]*@", targets_text), f"{where}: the targets file holds no password")
            check(not re.search(r"-[0-9a-z]{10}$", cm["metadata"]["name"]),
                  f"{where}: the targets ConfigMap keeps its name (no hash suffix: an edit must not roll the pods)")
    with tempfile.TemporaryDirectory() as tmp:
        token = os.path.join(tmp, "token")
        with open(token, "w") as f:
            f.write(data["api-token"])
        os.chmod(token, 0o600)
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write(text)
        if targets_text is not None:
            env["OPTISCHEMA_TARGETS_FILE"] = os.path.join(tmp, "targets")
            with open(env["OPTISCHEMA_TARGETS_FILE"], "w") as f:
                f.write(targets_text)
        # The pod's environment, its paths replaced by ones that exist here.
        run_env = {"PATH": "/usr/bin:/bin", **env, "OPTISCHEMA_DATA_DIR": tmp,
                   "OPTISCHEMA_API_TOKEN_FILE": token, "PGPASSFILE": os.path.join(tmp, "pgpass")}
        out = subprocess.run([engine, "serve", "--config", path, "--check-config"],
                             capture_output=True, text=True, env=run_env)
    text_out = out.stdout + out.stderr
    if not check(out.returncode == 0, f"{where}: {name} loads:\n{text_out}"):
        return
    targets = re.findall(r"target (\S+):", text_out)
    n = re.search(r"(\d+) target\(s\)", text_out)
    check(n and int(n.group(1)) == len(targets) > 0, f"{where}: {name}'s targets are read")
    check("NATS nats://nats:" in text_out, f"{where}: events go to the cluster's NATS")
    # Several engines without a fleet would each poll every database.
    fleet = re.search(r"fleet (\S+) as engine (\S+) \((\d+) bucket", text_out)
    if sts["spec"]["replicas"] > 1:
        check(fleet is not None, f"{where}: {sts['spec']['replicas']} engines share the targets as a fleet")
        check(fleet and fleet.group(2) == "optischema-0", f"{where}: each engine's id is its pod's name")
        check(fleet and int(fleet.group(3)) == 3, f"{where}: the membership bucket on three NATS servers")
    # Each target's host, port, database and user have a password line.
    live = "\n".join(line for line in (text + "\n" + (targets_text or "")).splitlines()
                     if not line.lstrip().startswith("#"))
    for m in re.finditer(r'(?:^|")[\w-]+=postgresql://([\w-]+)@([\w.-]+):(\d+)/([\w-]+)', live, re.M):
        user, host, port, db = m.groups()
        check(any(p[0] in (host, "*") and p[1] in (port, "*") and p[2] in (db, "*") and p[3] == user
                  for p in pgpass), f"{where}: pgpass has {user}@{host}:{port}/{db}")
    sandbox = env.get("OPTISCHEMA_SANDBOX_DSN", "")
    m = re.match(r"postgresql://([\w-]+)@([\w.-]+):(\d+)/", sandbox)
    check(m and any(p[0] == m.group(2) and p[3] == m.group(1) for p in pgpass),
          f"{where}: pgpass has the sandbox role")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", required=True)
    ap.add_argument("--source", required=True)
    a = ap.parse_args()
    files = [os.path.join(a.source, p) for p in ("k8s", "docker-compose.yml", "docker-compose.sandbox.yml")]
    lint = subprocess.run(["yamllint", "-f", "parsable", "-c", os.path.join(a.source, ".yamllint"), *files],
                          capture_output=True, text=True)
    check(lint.returncode == 0, f"yamllint:\n{lint.stdout}{lint.stderr}")
    overlays = sorted(os.listdir(os.path.join(a.source, "k8s", "overlays")))
    check(overlays == ["fleet", "single"], f"overlays: {overlays}")
    for overlay in overlays:
        objs = render(a.source, overlay)
        secrets = secret_names(objs)
        configmaps = {o["metadata"]["name"] for o in objs if o["kind"] == "ConfigMap"}
        for o in objs:
            if o["kind"] in ("StatefulSet", "Deployment"):
                check_pod(f"{overlay}: {o['kind']} {o['metadata']['name']}", o["spec"]["template"]["spec"],
                          secrets, configmaps)
        sts = check_engine(objs, overlay)
        check_nats(objs, overlay)
        check_sandbox(objs, overlay, a.source)
        if sts:
            check_config_loads(a.engine, overlay, sts, objs)
            n = sts["spec"]["replicas"]
            check(n == (1 if overlay == "single" else 3), f"{overlay}: {n} engine(s)")
        print(f"{overlay}: {len(objs)} objects rendered and checked")
    for f in failures:
        print("FAIL", f)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
