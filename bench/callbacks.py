#!/usr/bin/env python3
"""Captures the callbacks Patroni 4.1.5 runs for one sequence (issue #12), as the fixture
tests/fixtures/callbacks/patroni-4.1.5.txt that crates/agent/tests/callbacks.rs compares
Ferroni's with.

Three members (node3 tagged nofailover, so the crash failover has one possible winner), each
with every callback set to a script that appends its arguments and a timestamp to the member's
own file. The sequence: node1 bootstraps alone, node2 and node3 clone; switchover to node2;
POST /restart on node2, node1, node3; POST /reload on each; kill -9 of node2's agent and
postmaster, node1 takes over. The fixture holds, for each stage, the lines each member wrote
during it, without the timestamps.

    bench/callbacks [--out FILE]

Uses bench/compare.py's clusters (one etcd, PostgreSQL 15 on loopback, as root running the
agents as postgres) and the virtualenv bench/compare installs.
"""

import argparse
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402

SCRIPT = """#!/bin/sh
# Appends a timestamp and the callback's arguments (action, role, scope) to the file named first.
out=$1
shift
echo "$(date +%s.%N) $*" >> "$out"
"""

TIMINGS = (20, 1, 3)


def configure(cluster):
    """Every member runs every callback with its own log file; node3 never fails over."""
    script = os.path.join(cluster.dir, "callback.sh")
    with open(script, "w") as f:
        f.write(SCRIPT)
    os.chmod(script, 0o755)
    for node in cluster.nodes:
        node["callbacks"] = os.path.join(node["home"], "callbacks.log")
        command = "%s %s" % (script, node["callbacks"])
        with open(node["conf"]) as f:
            conf = f.read()
        conf = conf.replace("scope: compare\n", "scope: test\n")
        callbacks = "".join("    %s: %s\n" % (cb, command) for cb in
                            ("on_start", "on_stop", "on_restart", "on_reload", "on_role_change"))
        conf = conf.replace("postgresql:\n  listen:", "postgresql:\n  callbacks:\n%s  listen:" % callbacks)
        if node["name"] == "node3":
            conf += "tags:\n  nofailover: true\n"
        with open(node["conf"], "w") as f:
            f.write(conf)
    subprocess.run(["chown", "-R", "postgres:postgres", cluster.dir], check=True)


def lines(node):
    try:
        with open(node["callbacks"]) as f:
            return [line.split(" ", 1)[1].strip() for line in f if " " in line]
    except FileNotFoundError:
        return []


def settle(cluster, quiet=5, timeout=120):
    """Waits until no member's callback file changed for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        now = [lines(n) for n in cluster.nodes]
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.2)
    raise TimeoutError("callbacks kept changing")


def primary_with_streaming(cluster, index, replicas):
    node = cluster.nodes[index]
    if compare.in_recovery(node["pg"]) is not False:
        return False
    try:
        with compare.connect(node["pg"]) as c, c.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
            return cur.fetchone()[0] == replicas
    except Exception:
        return False


def api(node, path):
    return "http://127.0.0.1:%d/%s" % (node["api"], path)


def stop(cluster):
    """Stops the agents (they stop their PostgreSQL), then whatever postmaster is left, and etcd."""
    for p in cluster.procs.values():
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for p in cluster.procs.values():
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
    for node in cluster.nodes:
        pm = cluster.postmaster(node)
        if pm:
            try:
                os.kill(pm, signal.SIGQUIT)
            except ProcessLookupError:
                pass
    os.killpg(cluster.etcd.pid, signal.SIGKILL)
    cluster.etcd.wait()


def run(venv):
    cluster = compare.Cluster("patroni", venv, TIMINGS, False, "callbacks")
    try:
        configure(cluster)
        n1, n2, n3 = cluster.nodes
        stages, seen = [], {n["name"]: 0 for n in cluster.nodes}

        def stage(name):
            """The lines each member wrote since the last stage."""
            new = []
            for n in cluster.nodes:
                written = lines(n)
                new += ["%s %s" % (n["name"], line) for line in written[seen[n["name"]]:]]
                seen[n["name"]] = len(written)
            stages.append((name, new))
            print(name, flush=True)

        cluster.start(n1)
        compare.wait_until("node1 primary", 120, lambda: compare.in_recovery(n1["pg"]) is False, 0.2)
        cluster.start(n2)
        cluster.start(n3)
        compare.wait_until("bootstrap", 180, lambda: primary_with_streaming(cluster, 0, 2), 0.2)
        settle(cluster)
        stage("bootstrap")

        status, body = compare.http("POST", api(n1, "switchover"), {"leader": "node1", "candidate": "node2"}, 90)
        assert status == 200, (status, body)
        compare.wait_until("switchover", 120, lambda: primary_with_streaming(cluster, 1, 2), 0.2)
        settle(cluster)
        stage("switchover")

        for node, replicas in ((n2, 2), (n1, 1), (n3, 1)):
            status, body = compare.http("POST", api(node, "restart"), {}, 120)
            assert status == 200, (node["name"], status, body)
            compare.wait_until("restart", 120, lambda: primary_with_streaming(cluster, 1, 2), 0.2)
            settle(cluster, quiet=3)
        stage("restart")

        for node in cluster.nodes:
            before = len(lines(node))
            status, body = compare.http("POST", api(node, "reload"), None, 30)
            assert status == 202, (node["name"], status, body)
            compare.wait_until("on_reload", 30, lambda: len(lines(node)) > before, 0.2)
            settle(cluster, quiet=3)
        stage("reload")

        pm = cluster.postmaster(n2)
        os.killpg(cluster.procs["node2"].pid, signal.SIGKILL)
        if pm:
            try:
                os.kill(pm, signal.SIGKILL)
            except ProcessLookupError:
                pass
        compare.wait_until("failover to node1", 120, lambda: primary_with_streaming(cluster, 0, 1), 0.2)
        settle(cluster)
        stage("kill -9 failover")
        return stages
    finally:
        stop(cluster)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--venv", default=os.environ.get("FERRONI_BENCH_VENV", "/var/tmp/ferroni-bench-venv"))
    ap.add_argument("--out", default="-")
    args = ap.parse_args()
    stages = run(args.venv)
    text = ["# Patroni 4.1.5: the callbacks each member ran for bench/callbacks.py's sequence, stage by",
            "# stage (`[stage]`), each member's in the order it ran them: `member action role scope`."]
    for name, stage_lines in stages:
        text += ["[%s]" % name] + stage_lines
    out = "\n".join(text) + "\n"
    if args.out == "-":
        sys.stdout.write(out)
    else:
        with open(args.out, "w") as f:
            f.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
