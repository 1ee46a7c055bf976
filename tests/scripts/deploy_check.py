#!/usr/bin/env python3
"""The dashboard and the alerts that ship in deploy/ (issue 18), checked against a real pipeline.

1. `promtool check rules` and `promtool test rules` on deploy/prometheus/ (Debian `prometheus`).
2. deploy/grafana/syncline.json loads as JSON and has the shape Grafana imports: unique panel
   ids, a grid position, a Prometheus query per target, the datasource and pipeline variables.
3. A pipeline runs under `syncline run --metrics-listen 127.0.0.1:0`; its one endpoint is scraped
   and every metric name the dashboard and the alerts use must be in that scrape, and every label
   a legend or a `by (...)` names must be on a series of a metric of that query.

Usage: deploy_check.py BIN_DIR REPO_DIR
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from script_support import check_logs, fail, finish, stop_run

bin_dir, repo = sys.argv[1], sys.argv[2]
deploy = os.path.join(repo, "deploy")


# 1. Alert rules.
promtool = shutil.which("promtool")
if not promtool:
    print("FAIL: promtool not found (Debian package prometheus; scripts/setup.sh installs it)", file=sys.stderr)
    sys.exit(1)
rules = os.path.join(deploy, "prometheus", "alerts.yml")
for args in (["check", "rules", rules], ["test", "rules", os.path.join(deploy, "prometheus", "alerts_test.yml")]):
    done = subprocess.run([promtool] + args, capture_output=True, text=True)
    if done.returncode != 0:
        fail("promtool %s: %s%s" % (" ".join(args[:2]), done.stdout, done.stderr))

# 2. The dashboard's shape.
with open(os.path.join(deploy, "grafana", "syncline.json")) as f:
    dashboard = json.load(f)
panels = dashboard.get("panels", [])
if not panels:
    fail("the dashboard has no panels")
ids = [p.get("id") for p in panels]
if len(set(ids)) != len(ids):
    fail("panel ids repeat: %s" % ids)
variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
if variables.get("datasource", {}).get("type") != "datasource" or "pipeline" not in variables:
    fail("the dashboard needs the datasource and pipeline variables")
queries = []  # (where, expr, label names the legend or annotations use)
for p in panels:
    grid = p.get("gridPos", {})
    if not all(isinstance(grid.get(k), int) for k in "hwxy") or grid["x"] + grid["w"] > 24:
        fail("panel %r: bad gridPos %s" % (p.get("title"), grid))
    if p.get("datasource", {}).get("uid") != "${datasource}":
        fail("panel %r: datasource is not the ${datasource} variable" % p.get("title"))
    if not p.get("targets"):
        fail("panel %r has no queries" % p.get("title"))
    for t in p.get("targets", []):
        if not t.get("expr") or not t.get("refId"):
            fail("panel %r: a target without expr or refId" % p.get("title"))
        legend = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", t.get("legendFormat", "")))
        queries.append(("panel %r" % p.get("title"), t.get("expr", ""), legend))
queries.append(("variable pipeline", variables.get("pipeline", {}).get("definition", ""), set()))
# Alert expressions (and the labels their annotations name), read with a line scan: no YAML module needed.
with open(rules) as f:
    text = f.read()
for alert in re.split(r"\n\s*- alert: ", text)[1:]:
    name = alert.split("\n", 1)[0].strip()
    expr = re.search(r"expr: (\|\n(?:\s{10,}.*\n)+|.*)", alert).group(1)
    queries.append(("alert " + name, expr, set(re.findall(r"\$labels\.(\w+)", alert))))
used = set()
for _, expr, _ in queries:
    used |= set(re.findall(r"\b(syncline_[a-z0-9_]+)\b", expr))

# 3. A real pipeline's merged endpoint.
work = tempfile.mkdtemp(prefix="syncline-deploy-")
syncline = os.path.join(bin_dir, "syncline")
run = None
try:
    subprocess.run([syncline, "generate", "--log", work + "/log", "--records", "2000", "--keys", "200"],
                   check=True, capture_output=True)
    with open(work + "/run.log", "w") as log:
        run = subprocess.Popen([syncline, "run", "--log", work + "/log", "--state", work + "/state", "--pipeline", "d",
                                "--target", "sqlite:" + work + "/d.db", "--workers", "2",
                                "--metrics-listen", "127.0.0.1:0"], stdout=log, stderr=log)
    address_file = work + "/state/d.run/run.metrics"
    body = ""
    # Until the pipeline has committed everything and every metric used is in the scrape (the
    # per-worker series appear once the ventilator knows which worker holds what).
    for _ in range(600):
        if run.poll() is not None:
            break
        try:
            with open(address_file) as f:
                address = f.readline().strip()
            with urllib.request.urlopen(address + "/metrics", timeout=5) as r:
                body = r.read().decode()
            scraped = set(re.findall(r"^(syncline_[a-z0-9_]+)[{ ]", body, re.M))
            if re.search(r'^syncline_sink_committed_offset\{[^}]*\} 2000$', body, re.M) and used <= scraped:
                break
        except OSError:
            pass
        time.sleep(0.1)
    else:
        print("note: the pipeline did not commit 2000 records, or a metric never appeared", file=sys.stderr)
    series = {}  # metric name -> label names seen on it
    for line in body.splitlines():
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ", line)
        if m:
            series.setdefault(m.group(1), set()).update(re.findall(r'(\w+)="', m.group(2) or ""))
    if not series:
        fail("nothing scraped from the pipeline's endpoint (see %s/run.log)" % work)
    for where, expr, wanted in queries:
        names = set(re.findall(r"\b(syncline_[a-z0-9_]+)\b", expr))
        if not names and "up{" not in expr:
            fail("%s: no syncline metric in %r" % (where, expr))
        labels = set()
        for name in names:
            if name not in series:
                fail("%s: %s is not exported by a running pipeline" % (where, name))
            labels |= series.get(name, set())
        for by in re.findall(r"\bby \(([^)]*)\)", expr):
            wanted |= {l.strip() for l in by.split(",")} - {"le"}
        for label in sorted(wanted - {"job", "instance"}):
            if names and label not in labels:
                fail("%s: label %r is on no series of %s" % (where, label, sorted(names)))
    print("checked %d queries against %d exported metrics" % (len(queries), len(series)))
finally:
    stop_run(run)
    check_logs(work + "/state/d.run")
    shutil.rmtree(work, ignore_errors=True)

finish()
