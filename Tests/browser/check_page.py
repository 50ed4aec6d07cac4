#!/usr/bin/env python3
"""Loads a page in headless Chromium over the DevTools protocol (--remote-debugging-pipe) and prints
a JSON result: console errors/warnings, uncaught exceptions, failed loads (Log entries of level
error), the text of the elements whose ids are given, and optionally a full-page PNG screenshot.

usage: check_page.py URL [--ids id1,id2,...] [--screenshot out.png] [--chromium PATH]
Exit 0 when the page loaded (whatever it logged), 2 when Chromium could not be driven."""
import argparse, base64, fcntl, json, os, subprocess, sys, time, shutil, tempfile

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--ids", default="")
    ap.add_argument("--screenshot")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()

    r_cmd, w_cmd = os.pipe()   # we write commands → chromium reads fd 3
    r_ev, w_ev = os.pipe()     # chromium writes fd 4 → we read
    profile = tempfile.mkdtemp(prefix="kiln-chromium-")
    # move the pipe ends out of the way first so that dup2 onto 3 and 4 never clobbers one of them
    r_hi, w_hi = fcntl.fcntl(r_cmd, fcntl.F_DUPFD, 10), fcntl.fcntl(w_ev, fcntl.F_DUPFD, 10)
    def child_fds():
        os.dup2(r_hi, 3); os.dup2(w_hi, 4)
        os.set_inheritable(3, True); os.set_inheritable(4, True)
    args = [a.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
            "--user-data-dir=" + profile, "--hide-scrollbars", "about:blank"]
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=None if os.environ.get("KILN_CHROMIUM_DEBUG") else subprocess.DEVNULL,
                         preexec_fn=child_fds, close_fds=False)
    os.close(r_cmd); os.close(w_ev); os.close(r_hi); os.close(w_hi)
    out = os.fdopen(w_cmd, "wb", buffering=0)
    inp = os.fdopen(r_ev, "rb", buffering=0)
    buf = b""
    msg_id = 0
    events = []
    deadline = time.time() + a.timeout

    def read_msg():
        nonlocal buf
        while b"\0" not in buf:
            if time.time() > deadline:
                raise TimeoutError("chromium did not answer in time")
            chunk = inp.read(65536)
            if not chunk:
                raise EOFError("chromium closed the pipe")
            buf += chunk
        m, buf = buf.split(b"\0", 1)
        return json.loads(m)

    def send(method, params=None, session=None):
        nonlocal msg_id
        msg_id += 1
        m = {"id": msg_id, "method": method, "params": params or {}}
        if session: m["sessionId"] = session
        out.write(json.dumps(m).encode() + b"\0")
        while True:
            r = read_msg()
            if r.get("id") == msg_id:
                if "error" in r: raise RuntimeError(f"{method}: {r['error']}")
                return r.get("result", {})
            events.append(r)

    def wait_event(name):
        for i, e in enumerate(events):
            if e.get("method") == name:
                del events[i]; return e
        while True:
            e = read_msg()
            if e.get("method") == name: return e
            events.append(e)

    result = {"consoleErrors": [], "consoleWarnings": [], "exceptions": [], "logErrors": [], "ids": {}}
    try:
        targets = send("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        sid = send("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True})["sessionId"]
        for d in ("Page.enable", "Runtime.enable", "Log.enable"):
            send(d, session=sid)
        send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=sid)
        send("Page.navigate", {"url": a.url}, session=sid)
        wait_event("Page.loadEventFired")
        time.sleep(0.3)  # let late console messages arrive
        ids = [i for i in a.ids.split(",") if i]
        expr = "JSON.stringify(Object.fromEntries(%s.map(i => [i, (document.getElementById(i)||{}).textContent ?? null])))" % json.dumps(ids)
        v = send("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session=sid)
        result["ids"] = json.loads(v["result"]["value"])
        result["title"] = send("Runtime.evaluate", {"expression": "document.title", "returnByValue": True}, session=sid)["result"]["value"]
        if a.screenshot:
            shot = send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=sid)
            with open(a.screenshot, "wb") as f: f.write(base64.b64decode(shot["data"]))
        # drain what is already buffered
        for e in events:
            m, prm = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled":
                text = " ".join(str(x.get("value", x.get("description", ""))) for x in prm.get("args", []))
                if prm.get("type") in ("error", "assert"): result["consoleErrors"].append(text)
                elif prm.get("type") == "warning": result["consoleWarnings"].append(text)
            elif m == "Runtime.exceptionThrown":
                d = prm.get("exceptionDetails", {})
                result["exceptions"].append(d.get("exception", {}).get("description") or d.get("text", ""))
            elif m == "Log.entryAdded":
                en = prm.get("entry", {})
                if en.get("level") == "error": result["logErrors"].append(f'{en.get("text","")} {en.get("url","")}'.strip())
        try: send("Browser.close")
        except Exception: pass
    except Exception as e:
        print(json.dumps({"error": str(e)}))
        p.kill(); p.wait()
        shutil.rmtree(profile, ignore_errors=True)
        return 2
    try: p.wait(timeout=10)
    except subprocess.TimeoutExpired: p.kill(); p.wait()
    shutil.rmtree(profile, ignore_errors=True)
    print(json.dumps(result, sort_keys=True))
    return 0

if __name__ == "__main__":
    sys.exit(main())
