"""What the Python test scripts share (deploy_check.py, status_page_test.py): failures collected
with fail(), waits with a deadline, the end of a `syncline run` they started, and the last step of
every script: child logs on failure, sanitizer reports (as tests/support/harness.h does), the
verdict line and the exit code."""
import os
import re
import signal
import subprocess
import sys
import time

failures = []


def read_text(path):
    with open(path, errors="replace") as f:
        return f.read()


def fail(message):
    failures.append(message)
    print("FAIL: " + message, file=sys.stderr)


def wait_for(condition, what, seconds=60):
    """Polls `condition` every 0.1 s until it holds (errors count as not yet); fails after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    fail("timed out waiting for " + what)
    return False


def stop_run(run):
    """SIGTERM to a `syncline run` still running: it must exit 0 within 60 s."""
    if not run or run.poll() is not None:
        return
    run.send_signal(signal.SIGTERM)
    try:
        if run.wait(timeout=60) != 0:
            fail("syncline run exited %d on SIGTERM" % run.returncode)
    except subprocess.TimeoutExpired:
        run.kill()
        fail("syncline run did not stop on SIGTERM")


def check_logs(run_dir):
    """The last lines of every child log when something failed; a sanitizer report in any fails."""
    names = sorted(n for n in os.listdir(run_dir) if n.endswith(".log")) if os.path.isdir(run_dir) else []
    if failures:
        for name in names:
            print("--- " + name + "\n" + "".join(read_text(os.path.join(run_dir, name)).splitlines(True)[-10:]),
                  file=sys.stderr)
    for name in names:
        text = read_text(os.path.join(run_dir, name))
        if re.search(r"ERROR: (Address|Leak)Sanitizer|: runtime error: ", text):
            fail("sanitizer report in " + name + ":\n" + text[-3000:])


def finish():
    """The verdict line ctest shows, and the exit code."""
    if failures:
        print("0 passed, 1 failed")
        sys.exit(1)
    print("1 passed, 0 failed")
