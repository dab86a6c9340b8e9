"""The suite's three runners, their long-lived servers, and the memory of a run's process tree.

Ours and Prism are job servers started once per suite run, as a user with a running server has
them; FnApiRunner runs inside the client process. Each run's client is a process of its own.
"""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.sysconf("SC_PAGE_SIZE")


class TreeRss(threading.Thread):
    """Samples, every `interval` s, the summed RSS of `roots` and all their descendants; keeps the peak.

    RSS counts pages shared between processes (forked workers, shared libraries) once per
    process, as `ps` and `top` do.
    """

    def __init__(self, roots, interval=0.1):
        super().__init__(daemon=True)
        self.roots = set(roots)
        self.interval = interval
        self.peak_bytes = 0
        self._done = threading.Event()

    def run(self):
        while True:
            self.peak_bytes = max(self.peak_bytes, self.sample())
            if self._done.wait(self.interval):
                return

    def stop(self):
        self._done.set()
        self.join()
        self.peak_bytes = max(self.peak_bytes, self.sample())
        return self.peak_bytes

    def sample(self):
        children, rss = {}, {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:  # the process ended between the listing and the read
                continue
            pid = int(entry.name)
            children.setdefault(int(fields[1]), []).append(pid)
            rss[pid] = int(fields[21]) * PAGE
        total, todo, seen = 0, [r for r in self.roots if r in rss], set()
        while todo:
            pid = todo.pop()
            if pid in seen:
                continue
            seen.add(pid)
            total += rss.get(pid, 0)
            todo.extend(children.get(pid, []))
        return total


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listening on {port} after {timeout} s")


class Runner:
    """A runner as the suite sees it: a name, maybe a server process, and its client's endpoint."""

    def __init__(self, key, label, server=None, endpoint=None):
        self.key, self.label, self.server, self.endpoint = key, label, server, endpoint

    def roots(self, client_pid):
        return [client_pid] + ([self.server.pid] if self.server else [])

    def stop(self):
        if self.server and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()


def start_ours(log):
    """`beam-lambda job-server` with its defaults (embedded backend, one worker process per core)."""
    server = subprocess.Popen(
        ["node", os.path.join(ROOT, "bin", "beam-lambda.js"), "job-server", "--port", "0"],
        stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT,
    )
    line = server.stdout.readline()
    match = re.search(r"listening on (\S+)", line)
    if not match:
        server.kill()
        raise RuntimeError(f"our job server did not start: {line!r}")
    # Keep draining stdout so a chatty server never blocks on a full pipe.
    threading.Thread(target=lambda: [log.write(l.encode()) for l in server.stdout], daemon=True).start()
    return Runner("ours", "beam-lambda job-server (embedded)", server, match.group(1))


def start_prism(binary, log):
    """Prism as a job endpoint on a free port, its web UI off; jobs run with a LOOPBACK environment."""
    port = free_port()
    server = subprocess.Popen(
        [binary, f"--job_port={port}", "--serve_http=false", "--log_level=warn"],
        stdout=log, stderr=log, cwd=ROOT,
    )
    wait_for_port(port, server)
    return Runner("prism", "Prism v2.77.0 (LOOPBACK)", server, f"localhost:{port}")


def fnapi():
    return Runner("fnapi", "FnApiRunner (in-process)")


def run_client(runner, pipeline, size, inputs, output, log, timeout):
    """One run in a fresh client process: its result line, wall times and peak RSS of the runner's tree."""
    command = [sys.executable, os.path.join(ROOT, "bench", "suite_client.py"), "--pipeline", pipeline,
               "--size", str(size), "--runner", runner.key, "--inputs", inputs, "--output", output]
    if runner.endpoint:
        command += ["--endpoint", runner.endpoint]
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    client = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT)
    sampler = TreeRss(runner.roots(client.pid))
    sampler.start()
    try:
        stdout, _ = client.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        client.kill()
        stdout, _ = client.communicate()
    process_s = time.perf_counter() - started
    peak = sampler.stop()
    run = {"process_s": round(process_s, 3), "peak_rss_mb": round(peak / 2**20, 1), "load_before": load_before}
    last = (stdout or "").strip().splitlines()[-1:] or [""]
    if client.returncode != 0 or not last[0].startswith("{"):
        run["error"] = f"client exited with {client.returncode}" + (" (timeout)" if process_s >= timeout else "")
        return run
    result = json.loads(last[0])
    run.update(pipeline_s=round(result["pipeline_s"], 3), lines=result["lines"], sha256=result["sha256"])
    return run
