#!/usr/bin/env python3
"""vbt against The Virtual Brain, side by side (issue 19: "single simulations at
least 50x TVB on the Epileptor, Jansen-Rit and RWW + BOLD, measured side by side").

    bench/tvb_side_by_side.py [--tvb-path DIR] [--vbt PROGRAM] [--connectome ZIP]
                              [--repeats N] [--scale S] [--models a,b,c] [--keep DIR]

Three set-ups on the 76-region TVB connectome with conduction delays at 3 mm/ms
(TVB's tutorial models; the same parameters on both sides):

  epileptor    6-variable Epileptor, Heun, dt 0.05 ms, 1000 ms, difference
               coupling (a 1, Ks -0.2, Kf 0.1, r 0.00015, x0 -2.4 with five
               regions at -1.6 / -1.8), temporal average every 1 ms
  jansen_rit   Jansen-Rit, Heun, dt 0.05 ms, 1000 ms, sigmoidal Jansen-Rit
               coupling a 10, temporal average every 1 ms
  rww_bold     reduced Wong-Wang, Heun, dt 0.1 ms, 10 000 ms, linear coupling
               a 0.5, TVB's HRF-kernel BOLD every 2000 ms

(--scale multiplies every duration.)  vbt is timed as a whole process (`vbt
simulate CONFIG`: loading, planning, running, writing), by the CPU time
(user + system) of the child; TVB by the CPU time of `Simulator.run()` alone
in this process (its set-up and configure() are not counted: that favours
TVB).  Each is run --repeats times (default 3) and the table gives min and
median: the machine is shared, so CPU time, not wall time, is the figure.
The initial states differ (vbt: one constant state for every region and the
whole history; TVB: its default draws), which changes no cost.

TVB is used when `import tvb.simulator.lab` works, after --tvb-path DIR (a
tvb-library checkout or site-packages; Debian's python3 with python3-numpy and
python3-scipy has what tvb-library needs) is put first on sys.path.  Without
it the program prints vbt's figures alone and says why.  Standard library only
on the vbt side.  Exit status 0, 1 when a vbt run fails (its stderr printed).
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGET = 50.0


def setups(conn, scale):
    """(name, vbt config, number of steps, TVB builder) for every set-up."""
    ep_x0 = [-2.4] * 76
    for r in (62, 47, 40):
        ep_x0[r] = -1.6
    for r in (69, 72):
        ep_x0[r] = -1.8
    ep = {
        "connectome": conn, "speed_mm_per_ms": 3.0,
        "model": {"name": "epileptor",
                  "params": {"Ks": -0.2, "Kf": 0.1, "r": 0.00015, "x0": ep_x0}},
        "coupling": {"name": "difference", "params": {"a": 1.0}},
        "integrator": {"scheme": "heun", "dt_ms": 0.05},
        "initial": {"constant": [-1.9, -17.0, 3.1, -1.0, 0.04, -0.17]},
        "duration_ms": 1000.0 * scale,
        "monitors": [{"kind": "temporal_average", "period_ms": 1.0}],
        "seed": 42}
    jr = {
        "connectome": conn, "speed_mm_per_ms": 3.0,
        "model": {"name": "jansen_rit"},
        "coupling": {"name": "sigmoidal_jansen_rit", "params": {"a": 10.0}},
        "integrator": {"scheme": "heun", "dt_ms": 0.05},
        "initial": {"constant": [0.0, 15.0, 10.0, 0.0, 0.0, 0.0]},
        "duration_ms": 1000.0 * scale,
        "monitors": [{"kind": "temporal_average", "period_ms": 1.0}],
        "seed": 42}
    rww = {
        "connectome": conn, "speed_mm_per_ms": 3.0,
        "model": {"name": "reduced_wong_wang"},
        "coupling": {"name": "linear", "params": {"a": 0.5}},
        "integrator": {"scheme": "heun", "dt_ms": 0.1},
        "initial": {"constant": [0.1]},
        "duration_ms": 10000.0 * scale,
        "monitors": [{"kind": "bold", "period_ms": 2000.0, "variables": ["S"]}],
        "seed": 42}

    def tvb_epileptor(lab, np, c):
        x0 = np.array(ep_x0)
        return lab.simulator.Simulator(
            model=lab.models.Epileptor(Ks=np.array([-0.2]), Kf=np.array([0.1]),
                                       r=np.array([0.00015]), x0=x0),
            connectivity=c, coupling=lab.coupling.Difference(a=np.array([1.0])),
            integrator=lab.integrators.HeunDeterministic(dt=0.05),
            monitors=(lab.monitors.TemporalAverage(period=1.0),))

    def tvb_jansen_rit(lab, np, c):
        return lab.simulator.Simulator(
            model=lab.models.JansenRit(),
            connectivity=c, coupling=lab.coupling.SigmoidalJansenRit(a=np.array([10.0])),
            integrator=lab.integrators.HeunDeterministic(dt=0.05),
            monitors=(lab.monitors.TemporalAverage(period=1.0),))

    def tvb_rww(lab, np, c):
        return lab.simulator.Simulator(
            model=lab.models.ReducedWongWang(),
            connectivity=c, coupling=lab.coupling.Linear(a=np.array([0.5])),
            integrator=lab.integrators.HeunDeterministic(dt=0.1),
            monitors=(lab.monitors.Bold(period=2000.0),))

    return [("epileptor", ep, tvb_epileptor), ("jansen_rit", jr, tvb_jansen_rit),
            ("rww_bold", rww, tvb_rww)]


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_vbt(vbt, cfg, work, name, k):
    path = os.path.join(work, "%s.json" % name)
    with open(path, "w") as f:
        json.dump(cfg, f)
    out = os.path.join(work, "%s-out%d" % (name, k))
    c0, w0 = child_cpu(), time.perf_counter()
    p = subprocess.run([vbt, "simulate", path, "-o", out, "--force", "-q"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    w1, c1 = time.perf_counter(), child_cpu()
    if p.returncode != 0:
        sys.stderr.write("tvb_side_by_side: vbt simulate %s failed (exit %d): %s\n"
                         % (name, p.returncode, p.stderr.strip()))
        return None
    return c1 - c0, w1 - w0


def load_tvb(path):
    """(lab, numpy) or (None, reason)."""
    if path:
        sys.path.insert(0, os.path.abspath(path))
    try:
        import numpy as np
        from tvb.simulator import lab
        return lab, np
    except Exception as e:  # ImportError, or a broken install
        return None, "%s: %s" % (type(e).__name__, e)


def run_tvb(lab, np, conn_path, builder, duration):
    c = lab.connectivity.Connectivity.from_file(os.path.abspath(conn_path))
    c.speed = np.array([3.0])
    sim = builder(lab, np, c)
    sim.simulation_length = duration
    sim.configure()
    c0, w0 = time.process_time(), time.perf_counter()
    sim.run(simulation_length=duration)
    return time.process_time() - c0, time.perf_counter() - w0


def fmt_pair(v):
    return "%.3f / %.3f" % (min(v), statistics.median(v)) if v else "-"


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tvb-path", help="directory put first on sys.path to import tvb")
    ap.add_argument("--vbt", default=os.path.join(ROOT, "build", "cli", "vbt"))
    ap.add_argument("--connectome", default=os.path.join(ROOT, "data-samples",
                                                          "connectivity_76.zip"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply every simulated duration (default 1)")
    ap.add_argument("--models", default="epileptor,jansen_rit,rww_bold")
    ap.add_argument("--keep", help="write the vbt configurations and outputs here")
    a = ap.parse_args(argv)
    if a.repeats < 1 or not a.scale > 0:
        ap.error("--repeats >= 1 and --scale > 0")
    if not os.access(a.vbt, os.X_OK):
        sys.stderr.write("tvb_side_by_side: %s: not an executable vbt (build first, or --vbt)\n"
                         % a.vbt)
        return 1
    if not os.path.isfile(a.connectome):
        sys.stderr.write("tvb_side_by_side: %s: no such connectome\n" % a.connectome)
        return 1
    want = a.models.split(",")
    table = [s for s in setups(os.path.abspath(a.connectome), a.scale) if s[0] in want]
    if len(table) != len(want):
        ap.error("--models: a comma list of epileptor, jansen_rit, rww_bold")
    lab, np = load_tvb(a.tvb_path)
    if lab is None:
        print("TVB: not importable (%s); vbt's figures alone (give --tvb-path)" % np)
    work = a.keep or tempfile.mkdtemp(prefix="vbt-tvb-")
    os.makedirs(work, exist_ok=True)
    print("%-11s %7s %9s  %-19s %-19s %-17s %s" % (
        "model", "regions", "steps", "vbt CPU s min/med", "TVB CPU s min/med",
        "speed-up min/med", "vbt M region-steps/s (median CPU)"))
    rc = 0
    try:
        for name, cfg, builder in table:
            steps = int(round(cfg["duration_ms"] / cfg["integrator"]["dt_ms"]))
            vbt_cpu, tvb_cpu = [], []
            for k in range(a.repeats):  # alternated, so both see the same load
                r = run_vbt(a.vbt, cfg, work, name, k)
                if r is None:
                    rc = 1
                    break
                vbt_cpu.append(r[0])
                if lab is not None:
                    tvb_cpu.append(run_tvb(lab, np, a.connectome, builder, cfg["duration_ms"])[0])
            if not vbt_cpu:
                continue
            speed = ""
            if tvb_cpu:
                speed = "%.1fx / %.1fx" % (min(tvb_cpu) / max(vbt_cpu),
                                           statistics.median(tvb_cpu) /
                                           statistics.median(vbt_cpu))
            rate = 76 * steps / statistics.median(vbt_cpu) / 1e6
            print("%-11s %7d %9d  %-19s %-19s %-17s %.2f" % (
                name, 76, steps, fmt_pair(vbt_cpu), fmt_pair(tvb_cpu), speed or "-", rate))
    finally:
        if not a.keep:
            subprocess.run(["rm", "-rf", work])
    print("(target: vbt at least %.0fx TVB on every model; speed-up min = TVB's fastest run "
          "over vbt's slowest)" % TARGET)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
