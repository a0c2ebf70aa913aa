"""Prints a page's DOM after it has run SECONDS of real time in headless Chromium.

`--dump-dom` dumps once the page has loaded (or after a budget of virtual time, which runs ahead
of the clock); a page fed by a stream that stays open (the dashboard watching GET /events) needs
the clock's time. This drives Chromium over the DevTools protocol on a pipe (fds 3 and 4,
messages ended by NUL): open the page, wait, evaluate the document's HTML.
Usage: chromium_dom.py CHROMIUM URL SECONDS
"""
import json
import os
import subprocess
import sys
import tempfile
import time

browser, url, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
to_child_r, to_child_w = os.pipe()
from_child_r, from_child_w = os.pipe()
profile = tempfile.mkdtemp(prefix="chromium-cdp-")


def preexec():
    # Chromium reads commands on fd 3 and writes answers on fd 4. Copied high first, so neither
    # dup2 overwrites the other's source.
    r, w = os.dup(to_child_r), os.dup(from_child_w)
    os.dup2(r, 3)
    os.dup2(w, 4)
    os.set_inheritable(3, True)
    os.set_inheritable(4, True)


proc = subprocess.Popen(
    [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
     "--remote-debugging-pipe", "about:blank"],
    preexec_fn=preexec, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.close(to_child_r)
os.close(from_child_w)
buffer = b""
next_id = 0


def call(method, params=None, session=None):
    global buffer, next_id
    next_id += 1
    message = {"id": next_id, "method": method, "params": params or {}}
    if session:
        message["sessionId"] = session
    os.write(to_child_w, json.dumps(message).encode() + b"\0")
    while True:
        while b"\0" not in buffer:
            chunk = os.read(from_child_r, 65536)
            if not chunk:
                sys.exit("chromium closed the pipe")
            buffer += chunk
        raw, buffer = buffer.split(b"\0", 1)
        answer = json.loads(raw)
        if answer.get("id") == next_id:
            if "error" in answer:
                sys.exit(f"{method}: {answer['error']}")
            return answer["result"]


try:
    target = call("Target.createTarget", {"url": url})["targetId"]
    session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    time.sleep(seconds)
    html = call("Runtime.evaluate", {"expression": "document.documentElement.outerHTML", "returnByValue": True}, session)
    print(html["result"]["value"])
finally:
    proc.kill()
    proc.wait()
    subprocess.run(["rm", "-rf", profile])
