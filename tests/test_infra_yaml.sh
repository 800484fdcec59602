#!/usr/bin/env bash
# test_infra_yaml.sh BUILD_DIR SOURCE_DIR: infra/docker-compose.yml,
# infra/Dockerfile and infra/k8s/*.yaml are well formed and agree with
# each other and with the node. Docker and Kubernetes do not run where the
# tests run, so this is what can be checked without them:
#   - every YAML file parses (python3-yaml, safe_load_all);
#   - compose: whiteboardd (built from infra/Dockerfile) + redis:7 +
#     mongo:7, each with a named volume declared at top level and a
#     healthcheck; whiteboardd's is /readyz and waits for healthy
#     dependencies; JWT_SECRET is required from the environment; the stop
#     grace period exceeds the node's shutdown watchdog (net/server.h);
#   - Dockerfile: Debian 12 stages, deps via infra/deps.sh, a non-root
#     USER, HEALTHCHECK on /healthz, and every shared library that the
#     built whiteboardd and wbctl link directly (readelf NEEDED) comes from
#     a package it installs (ldd + dpkg -S on this Debian 12 machine);
#   - k8s: Namespace, ConfigMap, Secret, two Services, a StatefulSet with a
#     PVC template mounted at WB_DATA, probes on /readyz and /healthz at
#     the port WB_LISTEN names, preStop + a grace period above the
#     watchdog, the Dockerfile's uid, references that resolve, and a
#     placeholder secret too short for the node to accept.
set -uo pipefail
B=$1
S=$2
python3 -c "import yaml" 2>/dev/null || { echo "FAIL: python3-yaml missing (infra/deps.sh --test)"; exit 1; }
libpkgs() { # the Debian packages of the libraries the binaries link directly
    # (DT_NEEDED; what those need in turn comes with the packages' own
    # dependencies), each resolved to a file through ldd.
    local bin soname lib
    for bin in "$@"; do
        readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | while read -r soname; do
            lib=$(ldd "$bin" | awk -v s="$soname" '$1 == s && $3 ~ /^\// {print $3}')
            [[ -n $lib ]] || { echo "UNKNOWN: $soname"; continue; }
            dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null || echo "UNKNOWN: $lib"
        done
    done | cut -d: -f1 | sort -u
}
pkgs=""
if [[ -x $B/net/whiteboardd && -x $B/tools/wbctl ]]; then
    pkgs=$(libpkgs "$B/net/whiteboardd" "$B/tools/wbctl" | tr '\n' ' ')
else
    echo "FAIL: whiteboardd and wbctl must be built ($B)"
    exit 1
fi
python3 - "$S" "$pkgs" <<'PYEOF'
import glob, os, re, shlex, sys
import yaml

src, pkgs = sys.argv[1], sys.argv[2].split()
fails = []


def check(cond, msg):
    if not cond:
        fails.append(msg)
    return cond


watchdog_ms = int(re.search(r"#define SERVER_STOP_MAX_MS (\d+)",
                            open(os.path.join(src, "net/server.h")).read()).group(1))
watchdog_s = watchdog_ms / 1000


def seconds(v):
    m = re.fullmatch(r"(\d+)(s|m)?", str(v))
    return int(m.group(1)) * (60 if m.group(2) == "m" else 1) if m else -1


# --- docker-compose.yml --------------------------------------------------------------
c = yaml.safe_load(open(os.path.join(src, "infra/docker-compose.yml")))
svc = c.get("services", {})
check(set(svc) >= {"whiteboardd", "redis", "mongo"}, "compose services: %r" % list(svc))
w, r, m = svc.get("whiteboardd", {}), svc.get("redis", {}), svc.get("mongo", {})
check(r.get("image") == "redis:7" and m.get("image") == "mongo:7",
      "images: %r %r" % (r.get("image"), m.get("image")))
check(w.get("build", {}).get("dockerfile") == "infra/Dockerfile" and
      os.path.normpath(os.path.join(src, "infra", w["build"].get("context", ""))) ==
      os.path.normpath(src), "whiteboardd build: %r" % w.get("build"))
declared = set((c.get("volumes") or {}).keys())
for name, s in (("whiteboardd", w), ("redis", r), ("mongo", m)):
    vols = [v.split(":")[0] for v in s.get("volumes", [])]
    check(vols and all(v in declared for v in vols),
          "%s volumes %r not all declared in %r" % (name, vols, declared))
    hc = s.get("healthcheck", {}).get("test")
    check(isinstance(hc, list) and hc[0] in ("CMD", "CMD-SHELL"),
          "%s healthcheck: %r" % (name, hc))
env = w.get("environment", {})
check(env.get("WB_DATA") in [v.split(":")[1] for v in w.get("volumes", [])],
      "WB_DATA %r is not the mounted volume" % env.get("WB_DATA"))
check("/readyz" in " ".join(w.get("healthcheck", {}).get("test", [])),
      "whiteboardd healthcheck is not /readyz")
check(all(d.get("condition") == "service_healthy"
          for d in (w.get("depends_on") or {}).values()) and
      set(w.get("depends_on") or {}) == {"redis", "mongo"},
      "depends_on: %r" % w.get("depends_on"))
check(re.fullmatch(r"\$\{JWT_SECRET:\?.+\}", str(env.get("JWT_SECRET", ""))) is not None,
      "JWT_SECRET must be required from the environment: %r" % env.get("JWT_SECRET"))
check(env.get("REDIS_URL", "").startswith("redis://redis:") and
      env.get("MONGO_URL", "").startswith("mongodb://mongo:"),
      "REDIS_URL/MONGO_URL name the compose services: %r" % env)
listen_port = env.get("WB_LISTEN", "").rsplit(":", 1)[-1]
check(any(str(p).endswith(":" + listen_port) for p in w.get("ports", [])),
      "published ports %r vs WB_LISTEN %r" % (w.get("ports"), env.get("WB_LISTEN")))
check(seconds(w.get("stop_grace_period")) > watchdog_s,
      "stop_grace_period %r not above the %gs watchdog" % (w.get("stop_grace_period"), watchdog_s))

# --- Dockerfile ------------------------------------------------------------------------
text = open(os.path.join(src, "infra/Dockerfile")).read()
lines = re.sub(r"\\\n", " ", text).splitlines()
instr = [(l.split(None, 1)[0].upper(), l.split(None, 1)[1] if len(l.split(None, 1)) > 1 else "")
         for l in (x.strip() for x in lines) if l and not l.startswith("#")]
froms = [a for k, a in instr if k == "FROM"]
check(len(froms) >= 1 and all(re.match(r"debian:12(-slim)?(\s|$)", f) for f in froms),
      "FROM lines: %r" % froms)
runs = " ".join(a for k, a in instr if k == "RUN")
check("infra/deps.sh" in runs, "the build stage does not use infra/deps.sh")
users = [a for k, a in instr if k == "USER"]
check(users and users[-1] not in ("root", "0"), "USER: %r" % users)
uid = re.search(r"--uid (\d+)", runs)
hc = [a for k, a in instr if k == "HEALTHCHECK"]
check(hc and "/healthz" in hc[0], "HEALTHCHECK: %r" % hc)
check(any(k == "EXPOSE" and a.split()[0] == listen_port for k, a in instr), "EXPOSE %s" % listen_port)
installed = set()
for cmd in re.findall(r"apt-get install ([^&;]*)", runs):
    installed |= {t for t in shlex.split(cmd) if not t.startswith("-")}
base = {"libc6", "libgcc-s1"}  # essential: in every Debian image
missing = [p.split(":")[0] for p in pkgs if p.split(":")[0] not in installed and
           p.split(":")[0] not in base]
check(not missing, "libraries of the binaries from packages the runtime stage "
      "does not install: %r" % missing)
check(not any(p.startswith("UNKNOWN") for p in pkgs), "libraries of no package: %r" % pkgs)

# --- k8s -----------------------------------------------------------------------------
docs = []
for f in sorted(glob.glob(os.path.join(src, "infra/k8s/*.yaml"))):
    docs += [d for d in yaml.safe_load_all(open(f)) if d]
kinds = sorted(d["kind"] for d in docs)
check(kinds == ["ConfigMap", "Namespace", "Secret", "Service", "Service", "StatefulSet"],
      "k8s kinds: %r" % kinds)
first = sorted(glob.glob(os.path.join(src, "infra/k8s/*.yaml")))[0]
check(next(yaml.safe_load_all(open(first)))["kind"] == "Namespace",
      "kubectl apply -f infra/k8s/ applies files in name order: the Namespace must come first")
ns = [d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"][0]
check(all(d["metadata"].get("namespace") == ns for d in docs if d["kind"] != "Namespace"),
      "every object in namespace %s" % ns)
by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
sts = [d for d in docs if d["kind"] == "StatefulSet"][0]
spec, pod = sts["spec"], sts["spec"]["template"]["spec"]
labels = sts["spec"]["template"]["metadata"]["labels"]
check(all(labels.get(k) == v for k, v in spec["selector"]["matchLabels"].items()),
      "selector does not match the pod labels")
ctr = pod["containers"][0]
cm = by.get(("ConfigMap", [e["configMapRef"]["name"] for e in ctr.get("envFrom", []) if "configMapRef" in e][0]))
sec = by.get(("Secret", [e["secretRef"]["name"] for e in ctr.get("envFrom", []) if "secretRef" in e][0]))
check(cm is not None and sec is not None, "envFrom names a ConfigMap and a Secret that exist")
data_dir = cm["data"]["WB_DATA"] if cm else None
port = int(cm["data"]["WB_LISTEN"].rsplit(":", 1)[1]) if cm else None
check(cm and cm["data"]["WB_LISTEN"].startswith("0.0.0.0:"), "the pod must listen on all addresses")
vct = [v["metadata"]["name"] for v in spec.get("volumeClaimTemplates", [])]
mounts = {v["name"]: v["mountPath"] for v in ctr.get("volumeMounts", [])}
check(vct and mounts.get(vct[0]) == data_dir,
      "the PVC %r is not mounted at WB_DATA %r: %r" % (vct, data_dir, mounts))
ports = {p.get("name"): p["containerPort"] for p in ctr.get("ports", [])}
for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
    g = ctr.get(probe, {}).get("httpGet", {})
    pp = ports.get(g.get("port"), g.get("port"))
    check(g.get("path") == path and pp == port, "%s: %r (port %r, want %s on %r)" % (probe, g, pp, path, port))
check(pod.get("terminationGracePeriodSeconds", 30) > watchdog_s + 5,
      "terminationGracePeriodSeconds %r not above the watchdog (%gs) + preStop" %
      (pod.get("terminationGracePeriodSeconds"), watchdog_s))
check("preStop" in ctr.get("lifecycle", {}), "no preStop hook")
sc = pod.get("securityContext", {})
check(sc.get("runAsNonRoot") is True and uid and sc.get("runAsUser") == int(uid.group(1)),
      "pod securityContext %r vs the Dockerfile uid %r" % (sc, uid and uid.group(1)))
check(spec.get("serviceName") and by.get(("Service", spec["serviceName"]), {}).get("spec", {}).get("clusterIP") == "None",
      "serviceName %r is not a headless Service" % spec.get("serviceName"))
for d in docs:
    if d["kind"] == "Service":
        sel = d["spec"]["selector"]
        check(all(labels.get(k) == v for k, v in sel.items()), "Service %s selects no pod" % d["metadata"]["name"])
        check(all(p.get("targetPort") in ports or p.get("targetPort") == port for p in d["spec"]["ports"]),
              "Service %s targets no container port" % d["metadata"]["name"])
placeholder = (sec or {}).get("stringData", {}).get("JWT_SECRET", "")
check(0 < len(placeholder.encode()) < 32,
      "the committed Secret must be a placeholder the node refuses (< 32 bytes): %d bytes" % len(placeholder))

for f in fails:
    print("FAIL: " + f)
print("test_infra_yaml: %s (%d problem(s))" % ("ok" if not fails else "failed", len(fails)))
sys.exit(1 if fails else 0)
PYEOF
