"""Drives the Loupe kernel through Jupyter's own client (as the notebook does) and prints one JSON
object with what each step returned. Usage: kernel_session.py STEPS.json (a list of steps)."""
import json
import sys
import time

from jupyter_client.manager import start_new_kernel

steps = json.load(open(sys.argv[1]))
t0 = time.time()
km, kc = start_new_kernel(kernel_name="loupe", startup_timeout=60)
results = {"started_s": time.time() - t0}


def collect(msg_id, timeout):
    outputs = []
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        t, c = msg["msg_type"], msg["content"]
        if t == "status" and c["execution_state"] == "idle":
            break
        if t in ("stream", "execute_result", "display_data", "error"):
            outputs.append(dict(c, output_type=t))
    while True:
        reply = kc.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            return {"status": reply["content"]["status"], "outputs": outputs}


for step in steps:
    name, kind = step["name"], step.get("kind", "execute")
    start = time.time()
    if kind == "execute":
        msg_id = kc.execute(step["code"])
        if "interrupt_after_s" in step:
            time.sleep(step["interrupt_after_s"])
            km.interrupt_kernel()
        r = collect(msg_id, step.get("timeout_s", 60))
    elif kind == "complete":
        msg_id = kc.complete(step["code"], step["cursor"])
        r = kc.get_shell_msg(timeout=30)["content"]
    elif kind == "inspect":
        msg_id = kc.inspect(step["code"], step["cursor"])
        r = kc.get_shell_msg(timeout=30)["content"]
    r["seconds"] = time.time() - start
    r["since_start_s"] = time.time() - t0
    results[name] = r

kc.stop_channels()
km.shutdown_kernel(now=False)
print("LOUPE_RESULTS " + json.dumps(results))
