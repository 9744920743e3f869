#!/usr/bin/env python3
"""clnet side by side with ONNX Runtime, PyTorch and OpenVINO.

Exports the built-in networks with clnet's own weights (clnet-bench
--save-models writes clnet model files, read here and rebuilt as ONNX graphs
and PyTorch modules), feeds every engine the same images with the same thread
count, and measures them interleaved in rounds, so that load on a shared
machine hits all engines alike. Reports images/s (median over rounds), the
per-round ratio clnet / peer (median), and how far each peer's logits are
from clnet's, then writes the table into the Markdown report of clnet-bench.

    python3 bench/peers/peers.py --report report.md
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

PEERS_BEGIN = "<!-- peers:begin -->"
PEERS_END = "<!-- peers:end -->"
DEFAULT_NETWORKS = "resnet20v1,resnet56v1,resnet56v2,densenet100"
ENGINE_TITLES = {"clnet": "clnet", "onnxruntime": "ONNX Runtime", "torch": "PyTorch",
                 "openvino": "OpenVINO"}


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Run clnet and its peers (ONNX Runtime, PyTorch, OpenVINO) on the same "
                    "networks, weights, inputs and thread count, interleaved.")
    p.add_argument("--clnet-bench", help="the clnet-bench executable (default: $CLNET_BENCH, "
                   "else build/clnet-bench of this checkout, else clnet-bench on the PATH)")
    p.add_argument("--device", help="clnet's device selector (default: clnet's default)")
    p.add_argument("--networks", default=DEFAULT_NETWORKS,
                   help=f"comma-separated built-in networks (default {DEFAULT_NETWORKS})")
    p.add_argument("--batch", default="1,32", help="batch sizes (default 1,32)")
    p.add_argument("--engines", default="onnxruntime,torch,openvino",
                   help="peers to run (default onnxruntime,torch,openvino)")
    p.add_argument("--threads", type=int, default=2,
                   help="threads of every engine, clnet's PoCL included (default 2)")
    p.add_argument("--rounds", type=int, default=3,
                   help="interleaved rounds per network and batch (default 3)")
    p.add_argument("--repeat", type=int, default=5,
                   help="timed runs per engine and round, after warm-up (default 5)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs first (default 2)")
    p.add_argument("--warmup-time", type=float, default=0.5,
                   help="seconds: untimed runs go on until this long has passed, for every "
                        "engine alike (default 0.5)")
    p.add_argument("--tolerance", type=float, default=1e-3,
                   help="largest accepted max |peer - clnet| / max |clnet| (default 1e-3)")
    p.add_argument("--budget", type=float, default=600.0,
                   help="seconds; no new measurement starts after that, and later rounds are "
                        "dropped when they would not fit (default 600; 0: no limit)")
    p.add_argument("--seed", type=int, default=42, help="seed of weights and inputs")
    p.add_argument("--report", help="Markdown report to write the peers' section into "
                   "(created if missing; an existing section is replaced)")
    p.add_argument("--json", help="also write the results as JSON to this file")
    p.add_argument("--keep", help="keep the exported models, inputs and outputs in this folder")
    a = p.parse_args(argv)
    a.networks = [n for n in a.networks.split(",") if n]
    a.batch = [int(b) for b in a.batch.split(",") if b]
    a.engines = [e for e in a.engines.split(",") if e]
    for e in a.engines:
        if e not in ("onnxruntime", "torch", "openvino"):
            p.error(f"unknown engine '{e}' (onnxruntime, torch, openvino)")
    if a.threads < 1 or a.rounds < 1 or a.repeat < 1 or a.warmup < 0 or not a.batch:
        p.error("--threads, --rounds, --repeat and --batch need positive values")
    return a


def find_clnet_bench(given):
    candidates = [given, os.environ.get("CLNET_BENCH"),
                  os.path.join(HERE, "..", "..", "build", "clnet-bench"),
                  shutil.which("clnet-bench")]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.abspath(c)
    sys.exit("peers.py: clnet-bench not found; build it (cmake --build build) or pass "
             "--clnet-bench PATH")


def thread_environment(threads):
    """Environment that holds every engine, and PoCL, to `threads` threads."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "POCL_MAX_PTHREAD_COUNT"):
        env[var] = str(threads)
    return env


def rel_diff(ref, got):
    """max |got - ref| / max |ref| (1 when ref is all zeros); inf for NaN or inf."""
    import numpy as np
    ref = np.asarray(ref, np.float64).ravel()
    got = np.asarray(got, np.float64).ravel()
    if ref.shape != got.shape:
        return float("inf")
    if not np.all(np.isfinite(got)):
        return float("inf")
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    return float(np.max(np.abs(got - ref))) / (scale if scale > 0 else 1.0)


# ---------------------------------------------------------------------------
# Engines


def time_runs(fn, warmup, warmup_s, repeat):
    """Runs fn at least warmup times and for at least warmup_s seconds, then
    repeat timed times; returns (median seconds, last result)."""
    out = None
    start = time.perf_counter()
    done = 0
    while done < warmup or time.perf_counter() - start < warmup_s:
        out = fn()
        done += 1
    secs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        secs.append(time.perf_counter() - t0)
    return statistics.median(secs), out


class Clnet:
    """clnet through clnet-bench, one process per measurement."""
    name = "clnet"

    def __init__(self, exe, device, threads, workdir, seed):
        self.exe, self.device, self.workdir, self.seed = exe, device, workdir, seed
        self.env = thread_environment(threads)
        self.version = subprocess.run([exe, "--version"], capture_output=True,
                                      text=True).stdout.strip()
        self.checks = {}

    def measure(self, net, batch, warmup, warmup_s, repeat, check):
        import numpy as np
        outdir = os.path.join(self.workdir, "clnet_out")
        os.makedirs(outdir, exist_ok=True)
        cmd = [self.exe, "--only", "networks", "--networks", net.name, "--batch", str(batch),
               "--input", net.input_path, "--save-outputs", outdir, "--repeat", str(repeat),
               "--warmup", str(max(warmup - 1, 0)), "--warmup-time", str(warmup_s),
               "--max-time", "0", "--budget", "0",
               "--check-images", str(min(check, batch)), "--seed", str(self.seed),
               "--no-progress", "--json"]
        if self.device:
            cmd += ["--device", self.device]
        run = subprocess.run(cmd, capture_output=True, text=True, env=self.env)
        try:
            doc = json.loads(run.stdout)
            row = doc["networks"][0]
        except (ValueError, KeyError, IndexError):
            raise RuntimeError(f"clnet-bench failed (status {run.returncode}): "
                               f"{run.stderr.strip()[-400:]}")
        if row["outcome"] != "ok":
            raise RuntimeError(f"clnet-bench: {row.get('error', row['outcome'])}")
        if row["check"]["result"] != "not checked":
            self.checks[(net.name, batch)] = row["check"]
        self.device_name = doc["device"]["name"]
        out = np.fromfile(os.path.join(outdir, f"{net.name}_b{batch}.f32"), np.float32)
        return batch / row["seconds"]["median"], out


class OnnxRuntime:
    name = "onnxruntime"

    def __init__(self, threads):
        import onnxruntime as ort
        self.ort, self.threads, self.version = ort, threads, ort.__version__
        self.sessions = {}

    def measure(self, net, batch, warmup, warmup_s, repeat, check):
        if net.name not in self.sessions:
            so = self.ort.SessionOptions()
            so.intra_op_num_threads = self.threads
            so.inter_op_num_threads = 1
            so.execution_mode = self.ort.ExecutionMode.ORT_SEQUENTIAL
            so.graph_optimization_level = self.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            self.sessions[net.name] = self.ort.InferenceSession(
                net.onnx_path, so, providers=["CPUExecutionProvider"])
        sess = self.sessions[net.name]
        feed = {i.name: net.inputs[:batch] for i in sess.get_inputs()}
        secs, out = time_runs(lambda: sess.run(None, feed), warmup, warmup_s, repeat)
        return batch / secs, out[0]


class Torch:
    name = "torch"

    def __init__(self, threads):
        import torch
        torch.set_num_threads(threads)
        self.torch, self.version = torch, torch.__version__
        self.modules = {}

    def measure(self, net, batch, warmup, warmup_s, repeat, check):
        from to_torch import ClnetTorch
        torch = self.torch
        if net.name not in self.modules:
            self.modules[net.name] = ClnetTorch(net.model)
        module = self.modules[net.name]
        x = torch.from_numpy(net.inputs[:batch])
        args = [x] * len(net.model.inputs)

        def run():
            with torch.inference_mode():
                return module(*args).numpy()
        secs, out = time_runs(run, warmup, warmup_s, repeat)
        return batch / secs, out


class OpenVino:
    name = "openvino"

    def __init__(self, threads):
        import openvino as ov
        self.ov, self.threads, self.version = ov, threads, ov.__version__
        self.core = ov.Core()
        self.compiled = {}

    def measure(self, net, batch, warmup, warmup_s, repeat, check):
        key = (net.name, batch)
        if key not in self.compiled:
            model = self.core.read_model(net.onnx_path)
            model.reshape({i.get_any_name(): [batch] + list(net.inputs.shape[1:])
                           for i in model.inputs})
            # float32 inference, as the other engines: OpenVINO would pick
            # bf16 on CPUs that have it.
            config = {"INFERENCE_NUM_THREADS": self.threads, "NUM_STREAMS": 1,
                      "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
            self.compiled[key] = self.core.compile_model(model, "CPU", config)
        compiled = self.compiled[key]
        request = compiled.create_infer_request()
        feed = {k: net.inputs[:batch] for k in range(len(compiled.inputs))}

        def run():
            request.infer(feed)
            return request.get_output_tensor(0).data.copy()
        secs, out = time_runs(run, warmup, warmup_s, repeat)
        return batch / secs, out


def make_peer(name, threads):
    """The engine, or (None, why) when its Python package is missing."""
    try:
        if name == "onnxruntime":
            return OnnxRuntime(threads), None
        if name == "torch":
            return Torch(threads), None
        return OpenVino(threads), None
    except ImportError as e:
        package = {"onnxruntime": "onnxruntime", "torch": "torch", "openvino": "openvino"}[name]
        return None, f"not installed ({e}); pip install {package}"


# ---------------------------------------------------------------------------
# Networks


class Network:
    def __init__(self, name, workdir, max_batch, seed):
        import numpy as np
        import onnx
        from clnet_model import read_model
        from to_onnx import to_onnx
        self.name = name
        self.model = read_model(os.path.join(workdir, f"{name}.clnet"))
        shapes = {tuple(self.model.nodes[i].shape[1:]) for i in self.model.inputs}
        if len(shapes) != 1:
            raise NotImplementedError(f"{name}: inputs of different shapes")
        (shape,) = shapes
        rng = np.random.default_rng(seed)
        self.inputs = rng.random((max_batch,) + shape, dtype=np.float32)
        self.input_path = os.path.join(workdir, f"{name}_input.f32")
        self.inputs.tofile(self.input_path)
        self.onnx_path = os.path.join(workdir, f"{name}.onnx")
        onnx.save(to_onnx(self.model, name), self.onnx_path)


def export_models(exe, names, device, workdir, seed, env):
    cmd = [exe, "--only", "networks", "--networks", ",".join(names), "--batch", "1",
           "--repeat", "1", "--warmup", "0", "--warmup-time", "0", "--check-images", "0",
           "--budget", "0", "--save-models", workdir, "--seed", str(seed), "--no-progress", "--json"]
    if device:
        cmd += ["--device", device]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if run.returncode != 0:
        sys.exit(f"peers.py: exporting the networks with clnet-bench failed:\n{run.stderr}")


# ---------------------------------------------------------------------------
# Measurement


def measure_all(args, clnet, peers, nets, progress):
    start = time.monotonic()
    deadline = start + args.budget if args.budget > 0 else float("inf")
    engines = [clnet] + peers
    rows, skipped = [], []
    for batch in args.batch:
        for net in nets:
            row = {"network": net.name, "batch": batch, "rounds": 0,
                   "images_per_s": {e.name: [] for e in engines}, "errors": {}}
            if time.monotonic() >= deadline:
                skipped.append(f"{net.name} at batch {batch}: budget spent")
                continue
            outputs = {}
            failed = {}
            round_s = None
            for r in range(args.rounds):
                now = time.monotonic()
                if r > 0 and round_s is not None and now + round_s > deadline:
                    left_out = f"round {r + 1}" if r + 1 == args.rounds else \
                        f"rounds {r + 1} to {args.rounds}"
                    skipped.append(f"{net.name} at batch {batch}: {left_out} of {args.rounds} "
                                   f"(budget)")
                    break
                t0 = now
                # Rotate the order so that no engine always runs first.
                order = engines[r % len(engines):] + engines[:r % len(engines)]
                for e in order:
                    if e.name in failed:
                        continue
                    progress(f"{net.name}, batch {batch}, round {r + 1}/{args.rounds}: {e.name}")
                    try:
                        ips, out = e.measure(net, batch, args.warmup, args.warmup_time,
                                             args.repeat, check=2 if r == 0 else 0)
                    except Exception as exc:  # an engine that cannot run this net
                        failed[e.name] = str(exc).splitlines()[0][:300]
                        continue
                    row["images_per_s"][e.name].append(ips)
                    outputs[e.name] = out
                row["rounds"] = r + 1
                round_s = time.monotonic() - t0
            row["failed"] = failed
            ref = outputs.get("clnet")
            for e in peers:
                if e.name in outputs and ref is not None:
                    row["errors"][e.name] = rel_diff(ref, outputs[e.name])
            row["clnet_check"] = clnet.checks.get((net.name, batch))
            rows.append(row)
    return rows, skipped, time.monotonic() - start


def summarise(row, peers, tolerance):
    """Median images/s per engine and median per-round clnet / peer ratios."""
    med = {k: statistics.median(v) if v else None for k, v in row["images_per_s"].items()}
    ratios = {}
    clnet = row["images_per_s"]["clnet"]
    for e in peers:
        pv = row["images_per_s"][e.name]
        n = min(len(clnet), len(pv))
        ratios[e.name] = statistics.median(clnet[i] / pv[i] for i in range(n)) if n else None
    agree = all(err <= tolerance for err in row["errors"].values())
    return med, ratios, agree


def fmt(v, digits=3):
    if v is None:
        return "-"
    if v >= 100:
        return f"{v:.0f}"
    return f"{v:.{digits}g}"


def table(rows, peers, tolerance, markdown):
    heads = ["network", "batch", "clnet"] + [ENGINE_TITLES[e.name] for e in peers] + \
            [f"clnet / {ENGINE_TITLES[e.name]}" for e in peers] + \
            [f"max rel. diff to clnet"]
    lines = []
    if markdown:
        lines.append("| " + " | ".join(heads) + " |")
        lines.append("|---|---:|" + "---:|" * (1 + 2 * len(peers)) + "---|")
    else:
        lines.append("  ".join(f"{h:>14}" if i > 0 else f"{h:<12}" for i, h in enumerate(heads)))
    for row in rows:
        med, ratios, agree = summarise(row, peers, tolerance)
        diffs = ", ".join(f"{ENGINE_TITLES[k]} {v:.1e}" for k, v in row["errors"].items())
        if row["failed"]:
            diffs += ("; " if diffs else "") + "; ".join(
                f"{ENGINE_TITLES[k]} failed: {v}" for k, v in row["failed"].items())
        verdict = "agree" if agree else f"DISAGREE (tolerance {tolerance:g})"
        cells = [row["network"], str(row["batch"]), fmt(med["clnet"])] + \
                [fmt(med[e.name]) for e in peers] + \
                [fmt(ratios[e.name], 2) for e in peers] + [f"{verdict}: {diffs}"]
        if markdown:
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        else:
            lines.append("  ".join(f"{c:>14}" if i > 0 and i < len(cells) - 1 else
                                   (f"{c:<12}" if i == 0 else c) for i, c in enumerate(cells)))
    return "\n".join(lines)


def markdown_section(args, clnet, peers, missing, rows, skipped, elapsed, command):
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    text = [
        f"clnet ({getattr(clnet, 'device_name', 'default device')}) and its peers on the "
        f"same CPU ({cpu}, {os.cpu_count()} logical cores), {args.threads} threads each "
        f"(PoCL through `POCL_MAX_PTHREAD_COUNT`), the same weights and the same inputs. "
        f"Each network and batch size runs in {args.rounds} interleaved rounds (the engine "
        f"order rotates), each engine {args.warmup} warm-up runs (continued until {args.warmup_time:g} s "
        f"had passed) and {args.repeat} timed runs per round; images/s is the median over rounds, and the ratio is clnet / peer taken per "
        f"round, then the median. The last column compares each peer's logits with clnet's "
        f"(clnet itself is checked against its host reference by clnet-bench).",
        "",
        table(rows, peers, args.tolerance, markdown=True),
        "",
        "Versions: " + ", ".join([clnet.version] +
                                 [f"{ENGINE_TITLES[e.name]} {e.version}" for e in peers]) +
        f"; Python {platform.python_version()}. Took {elapsed:.0f} s.",
        "",
        f"Command: `{command}`",
    ]
    if missing:
        text += [""] + [f"- {ENGINE_TITLES[k]}: {v}" for k, v in missing.items()]
    if skipped:
        text += ["", "Left out:"] + [f"- {s}" for s in skipped]
    return "\n".join(text)


def update_report(path, section):
    block = f"{PEERS_BEGIN}\n{section}\n{PEERS_END}"
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = "# clnet-bench report\n"
    if PEERS_BEGIN in text and PEERS_END in text and \
            text.index(PEERS_BEGIN) < text.index(PEERS_END):
        head = text[:text.index(PEERS_BEGIN)]
        tail = text[text.index(PEERS_END) + len(PEERS_END):]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n## Peers\n\n" + block + "\n"
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv):
    args = parse_args(argv)
    command = " ".join(["python3", "bench/peers/peers.py"] + argv)
    # Thread pools read these when they start.
    os.environ.update({k: v for k, v in thread_environment(args.threads).items()
                       if k != "POCL_MAX_PTHREAD_COUNT"})
    exe = find_clnet_bench(args.clnet_bench)
    workdir = args.keep or tempfile.mkdtemp(prefix="clnet-peers-")
    os.makedirs(workdir, exist_ok=True)
    tty = sys.stderr.isatty()

    def progress(msg):
        if tty:
            sys.stderr.write("\r\033[K" + msg[:100])
            sys.stderr.flush()

    try:
        progress("exporting the networks with clnet-bench")
        export_models(exe, args.networks, args.device, workdir, args.seed,
                      thread_environment(args.threads))
        nets = [Network(n, workdir, max(args.batch), args.seed) for n in args.networks]
        clnet = Clnet(exe, args.device, args.threads, workdir, args.seed)
        peers, missing = [], {}
        for name in args.engines:
            engine, why = make_peer(name, args.threads)
            if engine:
                peers.append(engine)
            else:
                missing[name] = why
        rows, skipped, elapsed = measure_all(args, clnet, peers, nets, progress)
    finally:
        if tty:
            sys.stderr.write("\r\033[K")
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    print(f"Peers on {getattr(clnet, 'device_name', 'the default device')}, "
          f"{args.threads} threads each; images/s (median of {args.rounds} interleaved rounds)")
    print(table(rows, peers, args.tolerance, markdown=False))
    for k, v in missing.items():
        print(f"{ENGINE_TITLES[k]}: {v}")
    for s in skipped:
        print(f"left out: {s}")
    if args.report:
        update_report(args.report, markdown_section(args, clnet, peers, missing, rows, skipped,
                                                    elapsed, command))
        print(f"Peers' section written into {args.report}")
    if args.json:
        doc = {"command": command, "threads": args.threads, "rounds": args.rounds,
               "repeat": args.repeat, "tolerance": args.tolerance,
               "versions": {"clnet": clnet.version,
                            **{e.name: e.version for e in peers}},
               "missing": missing, "skipped": skipped, "elapsed_s": elapsed, "results": []}
        for row in rows:
            med, ratios, agree = summarise(row, peers, args.tolerance)
            doc["results"].append({**row, "median_images_per_s": med,
                                   "clnet_over_peer": ratios, "agree": agree})
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
    disagree = any(not summarise(r, peers, args.tolerance)[2] for r in rows)
    check_failed = any(r["clnet_check"] and r["clnet_check"]["result"] != "pass" for r in rows)
    return 1 if disagree or check_failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
