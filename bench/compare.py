#!/usr/bin/env python3
"""Ferroni and Patroni 4.1.5 side by side (issue #7).

Runs the same scenarios against both, with the same patroni.yml files (one etcd and three
PostgreSQL 15 members on loopback), and writes bench/REPORT.md (medians over the runs, ratio) and
one PNG per failover scenario (each node's role and the acknowledged writes over time).

Run through bench/compare, which installs Patroni from PyPI into a virtualenv first.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

import psycopg2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = "/usr/lib/postgresql/15/bin"
WORK = os.environ.get("FERRONI_COMPARE_DIR", "/tmp/ferroni-compare")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, timeout, check, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value is not None and value is not False:
            return value
        time.sleep(interval)
    raise TimeoutError("timed out after %.0f s waiting for %s" % (timeout, what))


def connect(port, timeout=1):
    return psycopg2.connect(host="127.0.0.1", port=port, user="postgres", password="super-pass",
                            dbname="postgres", connect_timeout=timeout)


def in_recovery(port):
    """True (replica), False (primary) or None (down)."""
    try:
        with connect(port) as c, c.cursor() as cur:
            cur.execute("SELECT pg_is_in_recovery()")
            return cur.fetchone()[0]
    except Exception:
        return None


def http(method, url, body=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except Exception as e:
        return 0, str(e)


class Cluster:
    """etcd and three members of one system (`ferroni` or `patroni`)."""

    def __init__(self, system, venv, timings, sync, tag):
        self.system, self.venv = system, venv
        self.dir = os.path.join(WORK, system, tag)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.etcd_port, self.etcd_peer = free_port(), free_port()
        self.nodes = []
        ttl, loop_wait, retry = timings
        for i in (1, 2, 3):
            name = "node%d" % i
            home = os.path.join(self.dir, name)
            os.makedirs(home)
            node = {"name": name, "pg": free_port(), "api": free_port(), "home": home,
                    "data": os.path.join(home, "data"), "conf": os.path.join(home, "patroni.yml")}
            sync_line = '        synchronous_standby_names: "*"\n' if sync else ""
            with open(node["conf"], "w") as f:
                f.write(f"""scope: compare
name: {name}
restapi:
  listen: 127.0.0.1:{node['api']}
  connect_address: 127.0.0.1:{node['api']}
etcd3:
  hosts: 127.0.0.1:{self.etcd_port}
bootstrap:
  dcs:
    ttl: {ttl}
    loop_wait: {loop_wait}
    retry_timeout: {retry}
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_connections: 50
        max_wal_senders: 10
        max_replication_slots: 10
        shared_buffers: 16MB
{sync_line}  initdb:
    - encoding: UTF8
    - data-checksums
postgresql:
  listen: 127.0.0.1:{node['pg']}
  connect_address: 127.0.0.1:{node['pg']}
  data_dir: {node['data']}
  bin_dir: {BIN}
  pgpass: {home}/pgpass
  authentication:
    replication:
      username: replicator
      password: rep-pass
    superuser:
      username: postgres
      password: super-pass
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 scram-sha-256
    - host replication all 127.0.0.1/32 scram-sha-256
  parameters:
    unix_socket_directories: {home}
    fsync: "off"
""")
            self.nodes.append(node)
        subprocess.run(["chown", "-R", "postgres:postgres", self.dir], check=True)
        self.etcd = subprocess.Popen(
            ["etcd", "--name", "e", "--data-dir", os.path.join(self.dir, "etcd"),
             "--listen-client-urls", "http://127.0.0.1:%d" % self.etcd_port,
             "--advertise-client-urls", "http://127.0.0.1:%d" % self.etcd_port,
             "--listen-peer-urls", "http://127.0.0.1:%d" % self.etcd_peer,
             "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % self.etcd_peer,
             "--initial-cluster", "e=http://127.0.0.1:%d" % self.etcd_peer],
            stdout=open(os.path.join(self.dir, "etcd.log"), "w"), stderr=subprocess.STDOUT,
            start_new_session=True)
        wait_until("etcd", 30, lambda: http("GET", "http://127.0.0.1:%d/health" % self.etcd_port, timeout=1)[0] == 200)
        self.procs = {}

    def agent_cmd(self, node):
        if self.system == "ferroni":
            return [os.path.join(ROOT, "target/release/ferroni"), node["conf"]]
        return [os.path.join(self.venv, "bin/patroni"), node["conf"]]

    def start(self, node):
        env = dict(os.environ, HOME=node["home"], PATH="%s:%s" % (os.path.join(self.venv, "bin"), os.environ["PATH"]))
        log = open(os.path.join(node["home"], "agent.log"), "a")
        self.procs[node["name"]] = subprocess.Popen(
            ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"] + self.agent_cmd(node),
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=node["home"])

    def start_all(self):
        for n in self.nodes:
            self.start(n)

    def postmaster(self, node):
        try:
            with open(os.path.join(node["data"], "postmaster.pid")) as f:
                return int(f.readline())
        except Exception:
            return None

    def write_dsn(self):
        hosts = ",".join("127.0.0.1" for _ in self.nodes)
        ports = ",".join(str(n["pg"]) for n in self.nodes)
        return ("host=%s port=%s user=postgres password=super-pass dbname=postgres "
                "target_session_attrs=read-write connect_timeout=1" % (hosts, ports))

    def leader(self):
        """The index of the only writable node whose peers stream from it, else None."""
        roles = [in_recovery(n["pg"]) for n in self.nodes]
        if roles.count(False) != 1 or roles.count(True) != 2:
            return None
        i = roles.index(False)
        try:
            with connect(self.nodes[i]["pg"]) as c, c.cursor() as cur:
                cur.execute("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
                return i if cur.fetchone()[0] == 2 else None
        except Exception:
            return None

    def stop(self):
        for p in self.procs.values():
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except Exception:
                pass
        deadline = time.monotonic() + 60
        for p in self.procs.values():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except Exception:
                pass
        # Anything left of either system (postmasters, guards) goes.
        subprocess.run(["pkill", "-9", "-f", self.dir], check=False)
        try:
            os.killpg(self.etcd.pid, signal.SIGKILL)
        except Exception:
            pass
        self.etcd.wait()


class Writer(threading.Thread):
    """Inserts numbered rows through the read-write DSN; records each acknowledgement."""

    def __init__(self, dsn):
        super().__init__(daemon=True)
        self.dsn, self.acked, self.stopping = dsn, [], False

    def run(self):
        n, conn = 0, None
        while not self.stopping:
            try:
                if conn is None:
                    conn = psycopg2.connect(self.dsn)
                    conn.autocommit = True
                n += 1
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO probe VALUES (%s)", (n,))
                self.acked.append((n, time.monotonic()))
            except Exception:
                conn = None
                time.sleep(0.01)

    def gap_after(self, since):
        times = [t for _, t in self.acked if t >= since - 1]
        return max((b - a for a, b in zip(times, times[1:])), default=float("nan"))

    def missing(self, dsn):
        with psycopg2.connect(dsn) as c, c.cursor() as cur:
            cur.execute("SELECT n FROM probe")
            have = {r[0] for r in cur.fetchall()}
        return [n for n, _ in self.acked if n not in have]


class Sampler(threading.Thread):
    """Every 50 ms, each node's role (primary 2, replica 1, down 0)."""

    def __init__(self, cluster):
        super().__init__(daemon=True)
        self.cluster, self.samples, self.stopping = cluster, [], False

    def run(self):
        while not self.stopping:
            t = time.monotonic()
            roles = []
            for n in self.cluster.nodes:
                r = in_recovery(n["pg"])
                roles.append(0 if r is None else (1 if r else 2))
            self.samples.append((t, roles))
            time.sleep(max(0, 0.05 - (time.monotonic() - t)))

    def overlap(self):
        return sum(1 for _, roles in self.samples if roles.count(2) > 1)


def up(system, venv, timings, sync, tag):
    c = Cluster(system, venv, timings, sync, tag)
    started = time.monotonic()
    c.start_all()
    try:
        leader = wait_until("a leader and two streaming replicas", 180, c.leader, 0.1)
    except Exception:
        c.stop()
        raise
    took = time.monotonic() - started
    with psycopg2.connect(c.write_dsn()) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS probe (n bigint)")
    return c, leader, took


def failover_scenario(system, venv, timings, sync, tag, action, plot):
    c, leader, _ = up(system, venv, timings, sync, tag)
    try:
        writer, sampler = Writer(c.write_dsn()), Sampler(c)
        writer.start(), sampler.start()
        wait_until("writes flowing", 30, lambda: len(writer.acked) > 50)
        time.sleep(1)
        at = time.monotonic()
        node = c.nodes[leader]
        if action == "switchover":
            target = c.nodes[(leader + 1) % 3]["name"]
            http("POST", "http://127.0.0.1:%d/switchover" % node["api"],
                 {"leader": node["name"], "candidate": target}, timeout=60)
        elif action == "crash":
            pm = c.postmaster(node)
            os.killpg(c.procs[node["name"]].pid, signal.SIGKILL)
            if pm:
                try:
                    os.kill(pm, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        elif action == "stop":
            os.kill(c.procs[node["name"]].pid, signal.SIGTERM)
        elif action == "freeze":
            # The leader's agent stalls for ttl + 10 s, then runs on.
            agent = c.procs[node["name"]].pid
            os.kill(agent, signal.SIGSTOP)
            time.sleep(timings[0] + 10)
            os.kill(agent, signal.SIGCONT)
        elif action == "etcd-stop":
            # The DCS stops answering for ttl + 5 s.
            os.killpg(c.etcd.pid, signal.SIGSTOP)
            time.sleep(timings[0] + 5)
            os.killpg(c.etcd.pid, signal.SIGCONT)
        if action == "etcd-stop":
            wait_until("a primary", 120, lambda: any(in_recovery(n["pg"]) is False for n in c.nodes))
        else:
            others = [n for i, n in enumerate(c.nodes) if i != leader]
            wait_until("a new primary", 120, lambda: any(in_recovery(n["pg"]) is False for n in others))
        if action in ("freeze", "etcd-stop"):
            wait_until("the cluster to heal", 180, c.leader, 0.2)
        count = len(writer.acked)
        wait_until("writes flowing again", 60, lambda: len(writer.acked) > count + 50)
        time.sleep(1)
        writer.stopping = sampler.stopping = True
        writer.join(5), sampler.join(5)
        gap = writer.gap_after(at)
        missing = writer.missing(c.write_dsn())
        if plot:
            plot_run(plot, system, action, at, writer, sampler)
        return {"gap": gap, "missing": len(missing), "overlap": sampler.overlap()}
    finally:
        c.stop()


def plot_run(path, system, action, at, writer, sampler):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (roles, writes) = plt.subplots(2, 1, sharex=True, figsize=(10, 5))
    for i in range(3):
        xs = [t - at for t, _ in sampler.samples]
        ys = [r[i] + i * 0.05 for _, r in sampler.samples]
        roles.step(xs, ys, where="post", label="node%d" % (i + 1))
    roles.set_yticks([0, 1, 2], ["down", "replica", "primary"])
    roles.legend(loc="upper right")
    roles.set_title("%s: %s (t = 0)" % (system, action))
    buckets = {}
    for _, t in writer.acked:
        b = int((t - at) * 10) / 10
        buckets[b] = buckets.get(b, 0) + 1
    xs = sorted(buckets)
    writes.bar(xs, [buckets[x] * 10 for x in xs], width=0.1)
    writes.set_ylabel("writes/s")
    writes.set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def agent_pids(c):
    """Every process of the agents (Ferroni: agent and fence guard; Patroni: the python agent)."""
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % p, "rb").read().split(b"\0")
        except Exception:
            continue
        text = b" ".join(cmd).decode(errors="replace")
        agent = ("release/ferroni" in text or "bin/patroni" in text) and "ferronictl" not in text
        if c.dir in text and agent and "setpriv" not in text:
            pids.append(int(p))
    return pids


def idle_footprint(system, venv, tag, seconds):
    c, _, _ = up(system, venv, (30, 10, 10), False, tag)
    try:
        time.sleep(10)
        pids = agent_pids(c)
        ticks = lambda: sum(int(open("/proc/%d/stat" % p).read().rsplit(")", 1)[1].split()[11]) +
                            int(open("/proc/%d/stat" % p).read().rsplit(")", 1)[1].split()[12]) for p in pids)
        before = ticks()
        metric = lambda: sum(float(m) for m in re.findall(r'grpc_server_msg_received_total\{[^}]*\} (\S+)',
                                                            http("GET", "http://127.0.0.1:%d/metrics" % c.etcd_port)[1]))
        msgs = metric()
        time.sleep(seconds)
        cpu = (ticks() - before) / os.sysconf("SC_CLK_TCK") / seconds * 100 / 3
        rate = (metric() - msgs) / seconds
        rss = sum(int(re.search(r"VmRSS:\s+(\d+)", open("/proc/%d/status" % p).read()).group(1)) for p in pids) / 3 / 1024
        leader = c.leader()
        api = c.nodes[leader]["api"]
        out = subprocess.run(["wrk", "-t2", "-c16", "-d5s", "--latency", "http://127.0.0.1:%d/primary" % api],
                             capture_output=True, text=True).stdout
        rps = float(re.search(r"Requests/sec:\s+(\S+)", out).group(1))
        p99 = re.search(r"99%\s+(\S+)", out).group(1)
        p99ms = float(p99[:-2]) if p99.endswith("ms") else float(p99[:-2]) / 1000 if p99.endswith("us") else float(p99[:-1]) * 1000
        ctl = [os.path.join(ROOT, "target/release/ferronictl")] if system == "ferroni" else [os.path.join(venv, "bin/patronictl")]
        times = []
        for _ in range(12):
            t = time.monotonic()
            subprocess.run(ctl + ["-c", c.nodes[0]["conf"], "list"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times.append((time.monotonic() - t) * 1000)
        return {"rss_mb": rss, "cpu_pct": cpu, "etcd_rps": rate, "rest_rps": rps, "rest_p99_ms": p99ms,
                "ctl_ms": statistics.median(times[2:])}
    finally:
        c.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--venv", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--idle-seconds", type=int, default=60)
    ap.add_argument("--only", default="", help="scenarios to run (default: all)")
    ap.add_argument("--systems", default="ferroni,patroni")
    ap.add_argument("--no-idle", action="store_true", help="skip the idle footprint measures")
    args = ap.parse_args()
    os.makedirs(WORK, exist_ok=True)
    # Measures not rerun keep their last values (bench/results.json).
    saved = os.path.join(ROOT, "bench", "results.json")
    results = {"ferroni": {}, "patroni": {}}
    if os.path.exists(saved):
        with open(saved) as f:
            results.update(json.load(f))
    fast = (20, 1, 3)
    # The fastest settings each accepts: Patroni's minimums, Ferroni's (safe with its fence,
    # docs/ha.md "Fastest settings").
    fastest = {"ferroni": (4, 1, 1), "patroni": (20, 1, 3)}
    scenarios = [
        ("switchover", fast, False, "switchover"),
        ("crash-defaults", (30, 10, 10), True, "crash"),
        ("crash-20", fast, True, "crash"),
        ("crash-fastest", fastest, True, "crash"),
        ("graceful-stop", fast, False, "stop"),
        ("frozen-agent", fast, False, "freeze"),
        ("etcd-stop", fast, False, "etcd-stop"),
    ]
    for system in args.systems.split(","):
        r = results[system]
        boots = []
        for run in range(0 if args.only else args.runs):
            c, _, took = up(system, args.venv, fast, False, "boot%d" % run)
            c.stop()
            boots.append(took)
            print("%s bootstrap run %d: %.2f s" % (system, run + 1, took), flush=True)
        if boots:
            r["bootstrap"] = statistics.median(boots)
        for name, timings, sync, action in scenarios:
            if args.only and name not in args.only.split(","):
                continue
            if isinstance(timings, dict):
                timings = timings[system]
            if name == "crash-fastest" and tuple(timings) == fast and "crash-20" in r:
                # Patroni's fastest settings are the 20/1/3 just measured: the same scenario.
                r[name] = dict(r["crash-20"], timings=list(timings))
                src = os.path.join(ROOT, "bench", "plots", "crash-20-%s.png" % system)
                if os.path.exists(src):
                    shutil.copy(src, os.path.join(ROOT, "bench", "plots", "%s-%s.png" % (name, system)))
                continue
            runs = []
            for run in range(args.runs):
                plot = os.path.join(ROOT, "bench", "plots", "%s-%s.png" % (name, system)) if run == 0 else None
                if plot:
                    os.makedirs(os.path.dirname(plot), exist_ok=True)
                out = failover_scenario(system, args.venv, timings, sync, "%s%d" % (name, run), action, plot)
                print("%s %s run %d: %s" % (system, name, run + 1, out), flush=True)
                runs.append(out)
            r[name] = {"gap": statistics.median(o["gap"] for o in runs), "timings": list(timings),
                       "missing": max(o["missing"] for o in runs),
                       "overlap": max(o["overlap"] for o in runs)}
        if not args.no_idle:
            idle = [idle_footprint(system, args.venv, "idle%d" % run, args.idle_seconds)
                    for run in range(args.runs)]
            for key in idle[0]:
                r[key] = statistics.median(i[key] for i in idle)
        print(system, json.dumps(r), flush=True)
    with open(saved, "w") as f:
        json.dump(results, f, indent=1)
    write_report(results, args)


def write_report(results, args):
    f, p = results["ferroni"], results["patroni"]
    scenarios = [
        ("Switchover under writes (`POST /switchover`), ttl 20/1/3", "switchover"),
        ("Crash failover (kill -9 of the leader's agent and PostgreSQL), 30/10/10, synchronous commit",
         "crash-defaults"),
        ("Crash failover, 20/1/3, synchronous commit", "crash-20"),
        ("Crash failover at the fastest settings each accepts (Ferroni 4/1/1, Patroni 20/1/3), "
         "synchronous commit", "crash-fastest"),
        ("Graceful-stop failover (SIGTERM to the leader's agent), 20/1/3", "graceful-stop"),
        ("Frozen leader agent (SIGSTOP for ttl + 10 s), 20/1/3, asynchronous commit", "frozen-agent"),
        ("etcd stopped (SIGSTOP for ttl + 5 s), 20/1/3, asynchronous commit", "etcd-stop"),
    ]
    footprint = [
        ("bootstrap: leader writable, two replicas streaming (s)", "bootstrap"),
        ("idle RSS per agent (MB)", "rss_mb"),
        ("idle CPU per agent (%)", "cpu_pct"),
        ("REST GET /primary requests/s", "rest_rps"),
        ("REST GET /primary p99 (ms)", "rest_p99_ms"),
        ("ctl list wall time (ms)", "ctl_ms"),
        ("etcd requests/s, idle three-member cluster", "etcd_rps"),
    ]

    def ratio(fv, pv, higher_better=False):
        if not fv or not pv:
            return "—"
        return "%.1f×" % (fv / pv if higher_better else pv / fv)

    lines = ["# Ferroni vs Patroni 4.1.5", "",
             "Generated by `bench/compare` on this machine (2 cores, Debian 12, PostgreSQL 15, etcd 3.4),",
             "medians over %d runs (lost writes and overlap: the worst run); the same patroni.yml for" % args.runs,
             "both (three members, one etcd, loopback). Ratio = Patroni / Ferroni: above 1 is better for",
             "Ferroni (for requests/s: Ferroni / Patroni).", ""]
    for title, key in scenarios:
        fr, pr = f.get(key), p.get(key)
        if not fr or not pr:
            continue
        gap_ratio = "n/a (see notes)" if key == "frozen-agent" else ratio(fr["gap"], pr["gap"])
        lines += ["## " + title, "",
                  "| measure | Ferroni | Patroni 4.1.5 | ratio |", "|---|---|---|---|",
                  "| longest write gap (s) | %.3g | %.3g | %s |" % (fr["gap"], pr["gap"], gap_ratio),
                  "| acknowledged writes lost | %d | %d | |" % (fr["missing"], pr["missing"]),
                  "| samples with two writable nodes | %d | %d | |" % (fr["overlap"], pr["overlap"]),
                  "", "Plots: `bench/plots/%s-ferroni.png`, `bench/plots/%s-patroni.png`." % (key, key), ""]
    lines += ["## Footprint and speed", "", "| measure | Ferroni | Patroni 4.1.5 | ratio |", "|---|---|---|---|"]
    for label, key in footprint:
        fv, pv = f.get(key), p.get(key)
        if fv is None or pv is None:
            continue
        lines.append("| %s | %.3g | %.3g | %s |" % (label, fv, pv, ratio(fv, pv, key == "rest_rps")))
    lines += ["", "## Notes", "",
              "- The writer is one connection inserting numbered rows as fast as it can (several thousand",
              "  per second here) through a multi-host string with `target_session_attrs=read-write`; a",
              "  write counts once PostgreSQL acknowledged it. Overlap counts 50 ms samples in which two",
              "  nodes accepted writes.",
              "- Frozen leader agent (SIGSTOP for ttl + 10 s, asynchronous commit): Patroni's old primary",
              "  keeps acknowledging writes after a replica was promoted (so its write gap is near zero:",
              "  the writer stays on it) until the agent thaws and demotes it, and pg_rewind then discards",
              "  those writes. Ferroni's fence guard stops the old primary before its lease can expire",
              "  (ttl − 2 s after the last renewal), and a replica takes over when the lease expires: the",
              "  gap is that difference. No write is acknowledged once a replica is promoted; with",
              "  asynchronous commit the last writes the replicas had not yet received when the guard",
              "  stopped the old primary can be lost, as in any asynchronous failover (bounded by",
              "  maximum_lag_on_failover).",
              "- Fastest settings: Ferroni accepts ttl 4 / loop_wait 1 / retry_timeout 1 (safe because of",
              "  the fence, docs/ha.md \"Fastest settings\"); Patroni's minimums are 20/1/3, so its row",
              "  repeats its 20/1/3 measurement.",
              "- Idle RSS per agent includes Ferroni's fence guard, which only a node that has led runs",
              "  (about 1.9 MB beside the leader's agent); the idle cluster runs at 30/10/10.",
              "- Each plot shows every node's role (sampled every 50 ms) and the acknowledged writes per",
              "  second around the fault (t = 0).", ""]
    with open(os.path.join(ROOT, "bench", "REPORT.md"), "w") as fh:
        fh.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
