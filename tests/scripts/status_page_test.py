#!/usr/bin/env python3
"""The status page of `syncline run` (issue 18) in a real browser.

A pipeline runs under `syncline run --metrics-listen 127.0.0.1:0`; one worker is killed so the
runner restarts it. Headless Chromium (Debian `chromium`) loads `/` of the runner's endpoint, runs
its script (which polls the merged /metrics), and the numbers in the rendered page must equal
`syncline status --json`: committed offset, log last offset, lag, dead letters, restarts and the
state. A screenshot is taken (and copied to $SYNCLINE_SCREENSHOT_DIR/status-page.png when set:
how docs/img/status-page.png is made). The page must not load anything from another origin.

Usage: status_page_test.py BIN_DIR        exit 77 (skipped) when chromium is not installed.
"""
import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request

from script_support import check_logs, fail, finish, stop_run, wait_for

bin_dir = sys.argv[1]
chromium = shutil.which("chromium") or shutil.which("chromium-browser")
if not chromium:
    print("SKIPPED: chromium is not installed (Debian package chromium; scripts/setup.sh installs it)")
    sys.exit(77)
syncline = os.path.join(bin_dir, "syncline")
work = tempfile.mkdtemp(prefix="syncline-page-")
state, log = work + "/state", work + "/log"
run_dir = state + "/p.run"
run = None

def read(path):
    with open(path) as f:
        return f.read()


def browser(*args):
    return subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--user-data-dir=" + work + "/chromium", "--virtual-time-budget=6000"] + list(args),
                          capture_output=True, text=True, timeout=120)


try:
    subprocess.run([syncline, "generate", "--log", log, "--records", "3000", "--keys", "300"], check=True,
                   capture_output=True)
    with open(work + "/run.log", "w") as out:
        run = subprocess.Popen([syncline, "run", "--log", log, "--state", state, "--pipeline", "p", "--workers", "2",
                                "--target", "sqlite:" + work + "/p.db", "--metrics-listen", "127.0.0.1:0"],
                               stdout=out, stderr=out)
    restarts = lambda: json.loads(read(run_dir + "/restarts.json"))["restarts_total"]
    address = lambda: read(run_dir + "/run.metrics").strip()
    ready = lambda: urllib.request.urlopen(address() + "/ready", timeout=5).status == 200
    if wait_for(ready, "the pipeline's /ready"):
        os.kill(int(read(run_dir + "/worker-1.pid")), signal.SIGKILL)
        wait_for(lambda: restarts() == 1 and ready(), "the runner to restart worker-1")
    status_of_p = lambda: json.loads(subprocess.run(
        [syncline, "status", "--state", state, "--log", log, "--pipeline", "p", "--json", "--interval-ms", "200"],
        capture_output=True, text=True).stdout)
    wait_for(lambda: status_of_p()["state"] == "caught_up", "status to say caught_up")
    status = status_of_p()

    page_html = urllib.request.urlopen(address() + "/", timeout=5).read().decode()
    if re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', page_html):
        fail("the page loads something from another origin")

    dom = browser("--dump-dom", address() + "/").stdout
    shown = {m.group(1): html.unescape(m.group(2)).strip()
             for m in re.finditer(r'id="([a-z-]+)"[^>]*>([^<]*)<', dom)}
    as_number = lambda text: int(text.replace(",", "")) if re.fullmatch(r"[\d,]+", text or "") else None
    for element, key in (("committed", "committed"), ("log-last", "log_last"), ("lag-records", "lag_records"),
                         ("dead-letters", "dead_letters"), ("restarts", "restarts")):
        if as_number(shown.get(element)) != status.get(key):
            fail("page shows %s=%r, status --json says %s=%r" % (element, shown.get(element), key, status.get(key)))
    if shown.get("state", "").replace(" ", "_") != status.get("state"):
        fail("page shows state %r, status --json says %r" % (shown.get("state"), status.get("state")))
    if shown.get("pipeline") != "p":
        fail("page shows pipeline %r" % shown.get("pipeline"))
    for child in ("sink", "ventilator", "worker-1", "worker-2"):
        if 'data-process="%s"' % child not in dom:
            fail("the processes table lacks " + child)
    if status.get("committed") != 3000:
        fail("status --json says committed=%r, expected 3000" % status.get("committed"))

    shot = work + "/status-page.png"
    browser("--screenshot=" + shot, "--window-size=1100,1000", "--hide-scrollbars", address() + "/")
    if not os.path.exists(shot) or os.path.getsize(shot) < 10_000:
        fail("no screenshot (or an empty one) at " + shot)
    elif os.environ.get("SYNCLINE_SCREENSHOT_DIR"):
        shutil.copy(shot, os.path.join(os.environ["SYNCLINE_SCREENSHOT_DIR"], "status-page.png"))
finally:
    stop_run(run)
    check_logs(run_dir)
    shutil.rmtree(work, ignore_errors=True)

finish()
