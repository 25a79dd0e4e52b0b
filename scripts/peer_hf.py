"""peer_hf.py - runs the Hugging Face peer (shared/hf/peer/bench_hf.py) and adds the keys
scripts/bench_table.py reads that the peer does not print.

    /usr/bin/python3 scripts/peer_hf.py PEER_DIR [bench_hf.py arguments...]

Prints the peer's JSON line with, in addition: mean_step_s (= median_step_s when the peer
does not report it), tokens_per_s (2·pairs·seq_len / median), wall_s, cpu_s (the child's
user + system CPU seconds over the whole run, set-up included), cpu_s_per_step
(cpu_s / (warmup + steps): an upper bound on the CPU per step, as it includes building the
model), own_cpu_cores_avg (cpu_s / wall_s), other_procs_cpu_cores_avg (the machine's busy
cores from /proc/stat minus the peer's own, averaged over the run) and loadavg_1min_at_end.
"""
import json, os, resource, subprocess, sys, time


def busy_s():
    with open("/proc/stat") as f:
        v = [float(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


peer, args = sys.argv[1], sys.argv[2:]
arg = lambda name, default: int(args[args.index(name) + 1]) if name in args else default
b0, t0 = busy_s(), time.time()
r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
out = subprocess.run(["/usr/bin/python3", os.path.join(peer, "bench_hf.py")] + args, check=True,
                     stdout=subprocess.PIPE, text=True).stdout
r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
wall, busy = time.time() - t0, busy_s() - b0
d = json.loads(out.strip().splitlines()[-1])
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
steps, warmup = arg("--steps", 5), arg("--warmup", 1)
d.setdefault("mean_step_s", d["median_step_s"])
d.setdefault("max_step_s", d["median_step_s"])
d["tokens_per_s"] = 2 * d["pairs"] * d["seq_len"] / d["median_step_s"]
d.update(wall_s=wall, cpu_s=cpu, cpu_s_per_step=cpu / (steps + warmup), own_cpu_cores_avg=cpu / wall,
         other_procs_cpu_cores_avg=max(0.0, busy / wall - cpu / wall),
         loadavg_1min_at_end=float(open("/proc/loadavg").read().split()[0]))
print(json.dumps(d))
