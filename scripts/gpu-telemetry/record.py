#!/usr/bin/env python3
"""Record 1 s GPU telemetry (NVML basics + NVML GPM) while running real workloads.

The output CSV becomes test fixtures for a crypto-miner detector that reads
dcgm-exporter metrics. Each workload (training, inference, HPC matmuls and
miner-like integer / memory-hard hashing kernels) runs for --seconds after an
unrecorded warm-up, with a few seconds of idle "gap" rows between workloads.

Needs: an NVIDIA GPU, pynvml (nvidia-ml-py), torch, cupy, numpy.
`--help` and `--dry-run` (fake sensors, sleeps instead of workloads) work
without any of them.
"""

import argparse
import copy
import csv
import math
import os
import random
import shutil
import socket
import statistics
import sys
import threading
import time
import traceback
from datetime import datetime, timezone

# ---------------------------------------------------------------------------
# Columns
# ---------------------------------------------------------------------------

BASIC_COLUMNS = [
    "gpu_util_pct",
    "mem_copy_util_pct",
    "power_w",
    "sm_clock_mhz",
    "fb_used_mib",
    "temp_c",
    "pcie_tx_kBps",
    "pcie_rx_kBps",
]

# (CSV column, pynvml constant name, numeric id from nvml.h nvmlGpmMetricId_t)
GPM_METRICS = [
    ("gpm_graphics_util", "NVML_GPM_METRIC_GRAPHICS_UTIL", 1),
    ("gpm_sm_util", "NVML_GPM_METRIC_SM_UTIL", 2),
    ("gpm_sm_occupancy", "NVML_GPM_METRIC_SM_OCCUPANCY", 3),
    ("gpm_integer_util", "NVML_GPM_METRIC_INTEGER_UTIL", 4),
    ("gpm_any_tensor_util", "NVML_GPM_METRIC_ANY_TENSOR_UTIL", 5),
    ("gpm_dfma_tensor_util", "NVML_GPM_METRIC_DFMA_TENSOR_UTIL", 6),
    ("gpm_hmma_tensor_util", "NVML_GPM_METRIC_HMMA_TENSOR_UTIL", 7),
    ("gpm_imma_tensor_util", "NVML_GPM_METRIC_IMMA_TENSOR_UTIL", 9),
    ("gpm_dram_bw_util", "NVML_GPM_METRIC_DRAM_BW_UTIL", 10),
    ("gpm_fp64_util", "NVML_GPM_METRIC_FP64_UTIL", 11),
    ("gpm_fp32_util", "NVML_GPM_METRIC_FP32_UTIL", 12),
    ("gpm_fp16_util", "NVML_GPM_METRIC_FP16_UTIL", 13),
    ("gpm_pcie_tx_MBps", "NVML_GPM_METRIC_PCIE_TX_PER_SEC", 20),
    ("gpm_pcie_rx_MBps", "NVML_GPM_METRIC_PCIE_RX_PER_SEC", 21),
]
GPM_COLUMNS = [col for col, _, _ in GPM_METRICS]

CSV_COLUMNS = ["workload", "t_seconds"] + BASIC_COLUMNS + GPM_COLUMNS

WORKLOAD_DESCRIPTIONS = {
    "idle": "nothing running (15 s, or --seconds if smaller)",
    "llm_train": "GPT-like decoder (d_model 2048, 16 heads, 8 layers, seq 1024, vocab 32k), "
                 "batch 8, bf16 autocast, AdamW, random token ids generated on the GPU; steady",
    "llm_train_dataloader": "same model/batch, each step copies a fresh batch from pinned host memory "
                            "(non_blocking); every 20 steps a 0.5 s pause (simulated eval/checkpoint)",
    "inference": "same model (bf16 copy of the weights), eval + inference_mode, batch 32 x seq 1024 forward (prefill), "
                 "batch copied from pinned host memory each step, next-token ids copied back",
    "fp32_hpc": "8192x8192 float32 matmuls, TF32 disabled (FP32 FMA pipe, no tensor cores)",
    "fp64_hpc": "4096x4096 float64 matmuls (cuBLAS DGEMM; FP64 / DFMA tensor path on Hopper)",
    "hash_int": "CuPy SHA-256 compression rounds on uint32 (rotr/xor/and/not/add, 64 constants), "
                "~4096 rounds per thread per launch, no floating point; compute-bound miner stand-in",
    "hash_memhard": "CuPy ethash-like kernel: 4 GiB uint32 DAG, 64 dependent random 128-byte reads "
                    "per thread mixed with FNV; memory-bound miner stand-in",
    "hash_int_throttled_80": "hash_int with duty cycle 80 ms busy / 20 ms sleep (~80 %)",
    "hash_int_throttled_70": "hash_int with duty cycle 70 ms busy / 30 ms sleep (~70 %)",
}
WORKLOAD_ORDER = list(WORKLOAD_DESCRIPTIONS)
LLM_WORKLOADS = {"llm_train", "llm_train_dataloader", "inference"}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def warn(msg):
    print(f"[{time.strftime('%H:%M:%S')}] WARNING: {msg}", file=sys.stderr, flush=True)


def _str(value):
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)


# ---------------------------------------------------------------------------
# Sensor readers
# ---------------------------------------------------------------------------

class NvmlReader:
    """Reads NVML basics and NVML GPM metrics for one GPU. Never raises from read()."""

    def __init__(self, index=0):
        import pynvml  # nvidia-ml-py
        self.nv = pynvml
        self.nv.nvmlInit()
        self.handle = self.nv.nvmlDeviceGetHandleByIndex(index)
        self.basic_errors = {}  # column -> first error message
        self.gpm_ok = False
        self.gpm_status = "not checked"
        self.gpm_metric_errors = {}  # column -> first per-metric nvmlReturn error
        self.gpm_runtime_error = None
        self._gpm_prev = None
        self._gpm_cur = None
        self._init_gpm()

    # --- provenance ---
    def info(self):
        nv = self.nv
        out = {}
        for key, fn in [
            ("gpu_name", lambda: _str(nv.nvmlDeviceGetName(self.handle))),
            ("driver_version", lambda: _str(nv.nvmlSystemGetDriverVersion())),
            ("nvml_version", lambda: _str(nv.nvmlSystemGetNVMLVersion())),
            ("cuda_driver_version", lambda: self._cuda_version(nv.nvmlSystemGetCudaDriverVersion())),
            ("gpu_uuid", lambda: _str(nv.nvmlDeviceGetUUID(self.handle))),
            ("power_limit_w", lambda: f"{nv.nvmlDeviceGetEnforcedPowerLimit(self.handle) / 1000.0:.0f}"),
        ]:
            try:
                out[key] = fn()
            except Exception as e:  # noqa: BLE001
                out[key] = f"unknown ({e})"
        return out

    @staticmethod
    def _cuda_version(v):
        return f"{v // 1000}.{(v % 1000) // 10}"

    # --- GPM ---
    def _metric_id(self, const_name, number):
        return getattr(self.nv, const_name, number)

    def _init_gpm(self):
        nv = self.nv
        try:
            support = nv.nvmlGpmQueryDeviceSupport(self.handle)
            if not getattr(support, "isSupportedDevice", 0):
                self.gpm_status = "no (nvmlGpmQueryDeviceSupport: isSupportedDevice=0)"
                return
            self._gpm_prev = nv.nvmlGpmSampleAlloc()
            self._gpm_cur = nv.nvmlGpmSampleAlloc()
            # Probe once: two samples 0.25 s apart, compute all metrics.
            nv.nvmlGpmSampleGet(self.handle, self._gpm_prev)
            time.sleep(0.25)
            nv.nvmlGpmSampleGet(self.handle, self._gpm_cur)
            values = self._gpm_compute(self._gpm_prev, self._gpm_cur)
            self._gpm_prev, self._gpm_cur = self._gpm_cur, self._gpm_prev
            self.gpm_ok = True
            got = sum(v is not None for v in values.values())
            self.gpm_status = f"yes ({got}/{len(GPM_METRICS)} metrics returned values in the probe)"
            if self.gpm_metric_errors:
                warn("GPM per-metric errors: " + "; ".join(
                    f"{k}: {v}" for k, v in self.gpm_metric_errors.items()))
        except Exception as e:  # noqa: BLE001
            self.gpm_ok = False
            self.gpm_status = f"no (error: {type(e).__name__}: {e})"
            warn(f"NVML GPM unavailable, gpm_* columns will be empty: {type(e).__name__}: {e}")

    def _gpm_compute(self, sample1, sample2):
        nv = self.nv
        mg = nv.c_nvmlGpmMetricsGet_t()
        mg.version = getattr(nv, "NVML_GPM_METRICS_GET_VERSION", 1)
        mg.numMetrics = len(GPM_METRICS)
        mg.sample1 = sample1
        mg.sample2 = sample2
        for i, (_, const_name, number) in enumerate(GPM_METRICS):
            mg.metrics[i].metricId = self._metric_id(const_name, number)
        nv.nvmlGpmMetricsGet(mg)
        success = getattr(nv, "NVML_SUCCESS", 0)
        values = {}
        for i, (col, _, _) in enumerate(GPM_METRICS):
            m = mg.metrics[i]
            ret = getattr(m, "nvmlReturn", success)
            value = float(m.value)
            if ret != success or math.isnan(value) or math.isinf(value):
                values[col] = None
                if col not in self.gpm_metric_errors:
                    self.gpm_metric_errors[col] = f"nvmlReturn={ret} value={value}"
            else:
                values[col] = value
        return values

    def read_gpm(self):
        """GPM metrics over the interval since the previous call (about 1 s)."""
        empty = {col: None for col in GPM_COLUMNS}
        if not self.gpm_ok:
            return empty
        try:
            self.nv.nvmlGpmSampleGet(self.handle, self._gpm_cur)
            values = self._gpm_compute(self._gpm_prev, self._gpm_cur)
            self._gpm_prev, self._gpm_cur = self._gpm_cur, self._gpm_prev
            return values
        except Exception as e:  # noqa: BLE001
            if self.gpm_runtime_error is None:
                self.gpm_runtime_error = f"{type(e).__name__}: {e}"
                warn(f"GPM read failed (reported once, will keep trying): {self.gpm_runtime_error}")
            return empty

    # --- NVML basics ---
    def _try(self, col, fn):
        try:
            return fn()
        except Exception as e:  # noqa: BLE001
            if col not in self.basic_errors:
                self.basic_errors[col] = f"{type(e).__name__}: {e}"
                warn(f"NVML read of {col} failed (reported once): {self.basic_errors[col]}")
            return None

    def read_basic(self):
        nv, h = self.nv, self.handle
        row = {}
        util = self._try("gpu_util_pct", lambda: nv.nvmlDeviceGetUtilizationRates(h))
        row["gpu_util_pct"] = util.gpu if util is not None else None
        row["mem_copy_util_pct"] = util.memory if util is not None else None
        row["power_w"] = self._try("power_w", lambda: nv.nvmlDeviceGetPowerUsage(h) / 1000.0)
        row["sm_clock_mhz"] = self._try(
            "sm_clock_mhz", lambda: nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM))
        row["fb_used_mib"] = self._try(
            "fb_used_mib", lambda: nv.nvmlDeviceGetMemoryInfo(h).used / (1024.0 * 1024.0))
        row["temp_c"] = self._try(
            "temp_c", lambda: nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU))
        # Each PCIe throughput call blocks ~20 ms inside NVML (its own sampling window).
        row["pcie_tx_kBps"] = self._try(
            "pcie_tx_kBps", lambda: nv.nvmlDeviceGetPcieThroughput(h, nv.NVML_PCIE_UTIL_TX_BYTES))
        row["pcie_rx_kBps"] = self._try(
            "pcie_rx_kBps", lambda: nv.nvmlDeviceGetPcieThroughput(h, nv.NVML_PCIE_UTIL_RX_BYTES))
        return row

    def close(self):
        for s in (self._gpm_prev, self._gpm_cur):
            if s is not None:
                try:
                    self.nv.nvmlGpmSampleFree(s)
                except Exception:  # noqa: BLE001
                    pass
        try:
            self.nv.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass


class FakeReader:
    """Random numbers in place of NVML, for --dry-run on a machine without a GPU."""

    gpm_ok = True
    gpm_status = "yes (FAKE: --dry-run)"
    gpm_metric_errors = {}
    gpm_runtime_error = None
    basic_errors = {}

    def info(self):
        return {"gpu_name": "FAKE (--dry-run)", "driver_version": "n/a", "nvml_version": "n/a",
                "cuda_driver_version": "n/a", "gpu_uuid": "n/a", "power_limit_w": "n/a"}

    def read_basic(self):
        row = {c: round(random.uniform(0, 100), 1) for c in BASIC_COLUMNS}
        row["pcie_tx_kBps"] = None  # exercise empty cells
        return row

    def read_gpm(self):
        return {c: random.uniform(0, 100) for c in GPM_COLUMNS}

    def close(self):
        pass


# ---------------------------------------------------------------------------
# Sampler
# ---------------------------------------------------------------------------

def _fmt(value, digits):
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


class Sampler:
    """Background thread: one CSV row per second while a phase (workload label) is set.

    The GPM sample is taken every tick even when no phase is set, so each
    recorded GPM value covers the ~1 s before its row.
    """

    def __init__(self, reader, csv_file, interval=1.0):
        self.reader = reader
        self.file = csv_file
        self.writer = csv.writer(csv_file)
        self.interval = interval
        self.rows = []  # kept for the summary
        self._phase = None
        self._phase_start = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)
        self._tick_error = None
        self.writer.writerow(CSV_COLUMNS)
        self.file.flush()

    def set_phase(self, name):
        """Start labelling rows with `name` (None: do not record)."""
        with self._lock:
            self._phase = name
            self._phase_start = time.monotonic()

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5.0)

    def _run(self):
        next_tick = time.monotonic() + self.interval
        while not self._stop.is_set():
            delay = next_tick - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            now = time.monotonic()
            if now - next_tick > self.interval:  # fell behind: skip missed ticks
                next_tick = now
            next_tick += self.interval
            try:
                self._tick(now)
            except Exception as e:  # noqa: BLE001  never let the sampler die
                if self._tick_error is None:
                    self._tick_error = f"{type(e).__name__}: {e}"
                    warn(f"sampler tick failed (reported once): {self._tick_error}")

    def _tick(self, now):
        gpm = self.reader.read_gpm()
        with self._lock:
            phase, start = self._phase, self._phase_start
        if phase is None:
            return
        basic = self.reader.read_basic()
        row = {"workload": phase, "t_seconds": now - start}
        row.update(basic)
        row.update(gpm)
        self.rows.append(row)
        out = [phase, f"{now - start:.2f}"]
        out += [_fmt(basic.get(c), 1) for c in BASIC_COLUMNS]
        out += [_fmt(gpm.get(c), 3) for c in GPM_COLUMNS]
        self.writer.writerow(out)
        self.file.flush()


# ---------------------------------------------------------------------------
# Workload helpers
# ---------------------------------------------------------------------------

def cuda_sync():
    import torch
    torch.cuda.synchronize()


def busy_loop(step, seconds, sync, sync_every=10, min_steps=0):
    """Call step() until `seconds` have passed, synchronizing every `sync_every` steps."""
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline or n < min_steps:
        step()
        n += 1
        if n % sync_every == 0:
            sync()
    sync()
    return n


# ---------------------------------------------------------------------------
# LLM (shared by llm_train, llm_train_dataloader, inference)
# ---------------------------------------------------------------------------

LLM_D_MODEL = 2048
LLM_HEADS = 16
LLM_LAYERS = 8
LLM_SEQ = 1024
LLM_VOCAB = 32768
LLM_TRAIN_BATCH = 8
LLM_INFER_BATCH = 32


def build_llm(ctx):
    """Build the GPT-like model and optimizer once; cached in ctx."""
    if "llm" in ctx:
        return ctx["llm"]
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Block(nn.Module):
        def __init__(self, d, heads):
            super().__init__()
            self.heads = heads
            self.ln1 = nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d, bias=False)
            self.proj = nn.Linear(d, d, bias=False)
            self.ln2 = nn.LayerNorm(d)
            self.fc1 = nn.Linear(d, 4 * d, bias=False)
            self.fc2 = nn.Linear(4 * d, d, bias=False)

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
            return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(LLM_VOCAB, LLM_D_MODEL)
            self.pos = nn.Embedding(LLM_SEQ, LLM_D_MODEL)
            self.blocks = nn.ModuleList(Block(LLM_D_MODEL, LLM_HEADS) for _ in range(LLM_LAYERS))
            self.ln_f = nn.LayerNorm(LLM_D_MODEL)
            self.head = nn.Linear(LLM_D_MODEL, LLM_VOCAB, bias=False)

        def forward(self, idx, last_only=False):
            x = self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))
            for blk in self.blocks:
                x = blk(x)
            x = self.ln_f(x)
            if last_only:
                x = x[:, -1:, :]
            return self.head(x)

    torch.backends.cuda.matmul.allow_tf32 = True
    with torch.device("cuda"):
        model = GPT()
    try:
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    except Exception:  # noqa: BLE001
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"built GPT-like model: {n_params / 1e6:.0f} M parameters")
    ctx["llm"] = (model, opt)
    return ctx["llm"]


def llm_train_step(model, opt, x, y):
    import torch
    import torch.nn.functional as F
    with torch.autocast("cuda", dtype=torch.bfloat16):
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, LLM_VOCAB), y.view(-1))
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss


def pinned_batches(n, batch):
    import torch
    return [torch.randint(0, LLM_VOCAB, (batch, LLM_SEQ), dtype=torch.long).pin_memory()
            for _ in range(n)]


def wl_llm_train(args, sampler, ctx):
    import torch
    model, opt = build_llm(ctx)
    model.train()

    def step():
        x = torch.randint(0, LLM_VOCAB, (LLM_TRAIN_BATCH, LLM_SEQ), device="cuda")
        y = torch.randint(0, LLM_VOCAB, (LLM_TRAIN_BATCH, LLM_SEQ), device="cuda")
        llm_train_step(model, opt, x, y)

    busy_loop(step, args.warmup, cuda_sync, sync_every=2, min_steps=3)
    sampler.set_phase("llm_train")
    n = busy_loop(step, args.seconds, cuda_sync, sync_every=5)
    log(f"llm_train: {n} steps")


def wl_llm_train_dataloader(args, sampler, ctx):
    import torch
    model, opt = build_llm(ctx)
    model.train()
    host = pinned_batches(16, 2 * LLM_TRAIN_BATCH)  # inputs and targets in one copy
    state = {"i": 0}

    def step():
        batch = host[state["i"] % len(host)].to("cuda", non_blocking=True)
        state["i"] += 1
        llm_train_step(model, opt, batch[:LLM_TRAIN_BATCH], batch[LLM_TRAIN_BATCH:])
        if state["i"] % 20 == 0:  # simulated eval / checkpoint pause
            torch.cuda.synchronize()
            time.sleep(0.5)

    busy_loop(step, args.warmup, cuda_sync, sync_every=2, min_steps=3)
    state["i"] = 0
    sampler.set_phase("llm_train_dataloader")
    n = busy_loop(step, args.seconds, cuda_sync, sync_every=5)
    log(f"llm_train_dataloader: {n} steps")


def wl_inference(args, sampler, ctx):
    import torch
    model, opt = build_llm(ctx)
    opt.zero_grad(set_to_none=True)
    # bf16 copy of the (trained) weights, as a server would load them; the fp32
    # training model is left untouched.
    infer_model = copy.deepcopy(model).to(torch.bfloat16).eval()
    host = pinned_batches(8, LLM_INFER_BATCH)
    state = {"i": 0}

    def step():
        with torch.inference_mode():
            x = host[state["i"] % len(host)].to("cuda", non_blocking=True)
            state["i"] += 1
            logits = infer_model(x, last_only=True)
            next_ids = logits[:, -1, :].argmax(dim=-1).cpu()  # D2H, syncs every step
        return next_ids

    busy_loop(step, args.warmup, cuda_sync, sync_every=2, min_steps=3)
    sampler.set_phase("inference")
    n = busy_loop(step, args.seconds, cuda_sync, sync_every=10)
    log(f"inference: {n} forward passes")


# ---------------------------------------------------------------------------
# HPC matmuls
# ---------------------------------------------------------------------------

def wl_fp32_hpc(args, sampler, ctx):
    import torch
    old_tf32 = torch.backends.cuda.matmul.allow_tf32
    old_prec = torch.get_float32_matmul_precision()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    try:
        n = 8192
        a = torch.randn(n, n, device="cuda", dtype=torch.float32)
        b = torch.randn(n, n, device="cuda", dtype=torch.float32)
        c = torch.empty(n, n, device="cuda", dtype=torch.float32)

        def step():
            torch.matmul(a, b, out=c)

        busy_loop(step, args.warmup, cuda_sync, sync_every=5, min_steps=3)
        sampler.set_phase("fp32_hpc")
        k = busy_loop(step, args.seconds, cuda_sync, sync_every=20)
        log(f"fp32_hpc: {k} matmuls ({2 * n ** 3 * k / args.seconds / 1e12:.1f} TFLOP/s)")
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old_tf32
        torch.set_float32_matmul_precision(old_prec)


def wl_fp64_hpc(args, sampler, ctx):
    import torch
    n = 4096
    a = torch.randn(n, n, device="cuda", dtype=torch.float64)
    b = torch.randn(n, n, device="cuda", dtype=torch.float64)
    c = torch.empty(n, n, device="cuda", dtype=torch.float64)

    def step():
        torch.matmul(a, b, out=c)

    busy_loop(step, args.warmup, cuda_sync, sync_every=10, min_steps=3)
    sampler.set_phase("fp64_hpc")
    k = busy_loop(step, args.seconds, cuda_sync, sync_every=50)
    log(f"fp64_hpc: {k} matmuls ({2 * n ** 3 * k / args.seconds / 1e12:.1f} TFLOP/s)")


# ---------------------------------------------------------------------------
# Miner-like kernels (CuPy)
# ---------------------------------------------------------------------------

SHA_KERNEL = r"""
__constant__ unsigned int K[64] = {
  0x428a2f98u,0x71374491u,0xb5c0fbcfu,0xe9b5dba5u,0x3956c25bu,0x59f111f1u,0x923f82a4u,0xab1c5ed5u,
  0xd807aa98u,0x12835b01u,0x243185beu,0x550c7dc3u,0x72be5d74u,0x80deb1feu,0x9bdc06a7u,0xc19bf174u,
  0xe49b69c1u,0xefbe4786u,0x0fc19dc6u,0x240ca1ccu,0x2de92c6fu,0x4a7484aau,0x5cb0a9dcu,0x76f988dau,
  0x983e5152u,0xa831c66du,0xb00327c8u,0xbf597fc7u,0xc6e00bf3u,0xd5a79147u,0x06ca6351u,0x14292967u,
  0x27b70a85u,0x2e1b2138u,0x4d2c6dfcu,0x53380d13u,0x650a7354u,0x766a0abbu,0x81c2c92eu,0x92722c85u,
  0xa2bfe8a1u,0xa81a664bu,0xc24b8b70u,0xc76c51a3u,0xd192e819u,0xd6990624u,0xf40e3585u,0x106aa070u,
  0x19a4c116u,0x1e376c08u,0x2748774cu,0x34b0bcb5u,0x391c0cb3u,0x4ed8aa4au,0x5b9cca4fu,0x682e6ff3u,
  0x748f82eeu,0x78a5636fu,0x84c87814u,0x8cc70208u,0x90befffau,0xa4506cebu,0xbef9a3f7u,0xc67178f2u};

__device__ __forceinline__ unsigned int rotr(unsigned int x, unsigned int n) {
  return (x >> n) | (x << (32u - n));
}

// Each thread: `compressions` SHA-256 compressions (64 rounds each) on its own
// state; the next message block is derived from the previous digest
// (SHA-256d-like chaining). Integer only.
extern "C" __global__ void sha256_rounds(unsigned int* out, unsigned int seed, int compressions) {
  unsigned int tid = blockIdx.x * blockDim.x + threadIdx.x;
  unsigned int H0 = 0x6a09e667u, H1 = 0xbb67ae85u, H2 = 0x3c6ef372u, H3 = 0xa54ff53au;
  unsigned int H4 = 0x510e527fu, H5 = 0x9b05688cu, H6 = 0x1f83d9abu, H7 = 0x5be0cd19u;
  unsigned int w[16];
#pragma unroll
  for (int i = 0; i < 16; i++) w[i] = (tid * 0x9e3779b9u) ^ (seed + (unsigned int)i * 0x85ebca6bu);
  for (int blk = 0; blk < compressions; blk++) {
    unsigned int a = H0, b = H1, c = H2, d = H3, e = H4, f = H5, g = H6, h = H7;
#pragma unroll
    for (int r = 0; r < 64; r++) {
      unsigned int wr;
      if (r < 16) {
        wr = w[r];
      } else {
        unsigned int w15 = w[(r + 1) & 15], w2 = w[(r + 14) & 15];
        unsigned int s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >> 3);
        unsigned int s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >> 10);
        wr = w[r & 15] + s0 + w[(r + 9) & 15] + s1;
        w[r & 15] = wr;
      }
      unsigned int S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
      unsigned int ch = (e & f) ^ (~e & g);
      unsigned int t1 = h + S1 + ch + K[r] + wr;
      unsigned int S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
      unsigned int maj = (a & b) ^ (a & c) ^ (b & c);
      unsigned int t2 = S0 + maj;
      h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    H0 += a; H1 += b; H2 += c; H3 += d; H4 += e; H5 += f; H6 += g; H7 += h;
    w[0] = H0; w[1] = H1; w[2] = H2; w[3] = H3; w[4] = H4; w[5] = H5; w[6] = H6; w[7] = H7;
    w[8] = 0x80000000u ^ (unsigned int)blk;
#pragma unroll
    for (int i = 9; i < 15; i++) w[i] = 0u;
    w[15] = 256u;
  }
  out[tid] = H0 ^ H1 ^ H2 ^ H3 ^ H4 ^ H5 ^ H6 ^ H7;
}
"""

DAG_KERNELS = r"""
#define FNV_PRIME 0x01000193u
__device__ __forceinline__ unsigned int fnv(unsigned int a, unsigned int b) {
  return (a * FNV_PRIME) ^ b;
}

// Cheap integer hash to fill the DAG (not recorded).
extern "C" __global__ void dag_fill(unsigned int* dag, unsigned long long n_words) {
  unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
  for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; i < n_words; i += stride) {
    unsigned int x = (unsigned int)i ^ (unsigned int)(i >> 32) ^ 0x9e3779b9u;
    x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu; x ^= x >> 16;
    dag[i] = x;
  }
}

// Ethash-like: 32-word mix per thread, `accesses` dependent random 128-byte DAG
// reads, FNV mixing. Integer only; bound by DRAM latency/bandwidth.
extern "C" __global__ void memhard(const unsigned int* __restrict__ dag, unsigned int n_lines,
                                   unsigned int* out, unsigned int seed, int accesses) {
  unsigned int tid = blockIdx.x * blockDim.x + threadIdx.x;
  unsigned int mix[32];
  unsigned int s = fnv(tid ^ 0x811c9dc5u, seed);
#pragma unroll
  for (int j = 0; j < 32; j++) { s = fnv(s, (unsigned int)j); mix[j] = s; }
  for (int i = 0; i < accesses; i++) {
    // constant indices only, so mix[] stays in registers (no local-memory traffic)
    unsigned int line = fnv((unsigned int)i ^ s, mix[0]) % n_lines;
    const uint4* p = reinterpret_cast<const uint4*>(dag + (unsigned long long)line * 32ull);
#pragma unroll
    for (int q = 0; q < 8; q++) {
      uint4 v = __ldg(p + q);
      mix[4 * q + 0] = fnv(mix[4 * q + 0], v.x);
      mix[4 * q + 1] = fnv(mix[4 * q + 1], v.y);
      mix[4 * q + 2] = fnv(mix[4 * q + 2], v.z);
      mix[4 * q + 3] = fnv(mix[4 * q + 3], v.w);
    }
    s = fnv(s, mix[1] ^ mix[17]);  // next address depends on the data just read
  }
  unsigned int r = s;
#pragma unroll
  for (int j = 0; j < 32; j++) r = fnv(r, mix[j]);
  out[tid] = r;
}
"""

HASH_THREADS = 256
HASH_COMPRESSIONS = 64  # 64 x 64 = 4096 SHA-256 rounds per thread per launch
DAG_BYTES = 4 << 30
MEMHARD_ACCESSES = 64


def _cupy_sync():
    import cupy
    cupy.cuda.Device().synchronize()


def _sm_count():
    import cupy
    try:
        return int(cupy.cuda.Device().attributes["MultiProcessorCount"])
    except Exception:  # noqa: BLE001
        return 132


def hash_int_setup(ctx):
    """Compile the SHA-256 kernel once and calibrate rounds so a launch takes ~2-10 ms."""
    if "sha" in ctx:
        return ctx["sha"]
    import cupy
    import numpy as np
    kern = cupy.RawKernel(SHA_KERNEL, "sha256_rounds")
    blocks = _sm_count() * 8
    out = cupy.empty(blocks * HASH_THREADS, dtype=cupy.uint32)
    compressions = HASH_COMPRESSIONS

    def launch(seed, comp):
        kern((blocks,), (HASH_THREADS,), (out, np.uint32(seed & 0xFFFFFFFF), np.int32(comp)))

    launch(1, compressions)  # compile + first run
    _cupy_sync()
    t0 = time.perf_counter()
    for i in range(5):
        launch(i, compressions)
    _cupy_sync()
    ms = (time.perf_counter() - t0) / 5 * 1000.0
    if ms > 10.0 or ms < 1.0:
        compressions = max(1, min(4096, int(round(compressions * 4.0 / max(ms, 1e-3)))))
    log(f"hash_int: {blocks} blocks x {HASH_THREADS} threads, {ms:.2f} ms/launch at "
        f"{HASH_COMPRESSIONS * 64} rounds; using {compressions * 64} rounds/launch")
    ctx["sha"] = (launch, compressions)
    return ctx["sha"]


def wl_hash_int(args, sampler, ctx, name="hash_int", on_ms=None, off_ms=None):
    launch, comp = hash_int_setup(ctx)
    state = {"seed": 0}

    def step():
        state["seed"] += 1
        launch(state["seed"], comp)

    busy_loop(step, min(args.warmup, 1.0), _cupy_sync, sync_every=10, min_steps=3)
    sampler.set_phase(name)
    if on_ms is None:
        n = busy_loop(step, args.seconds, _cupy_sync, sync_every=20)
        log(f"{name}: {n} launches")
        return
    # Duty cycle: launch (synchronizing each launch) for on_ms, then sleep off_ms.
    deadline = time.monotonic() + args.seconds
    n = 0
    busy = 0.0
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        burst_end = t0 + on_ms / 1000.0
        while time.monotonic() < burst_end:
            step()
            _cupy_sync()
            n += 1
        busy += time.monotonic() - t0
        time.sleep(off_ms / 1000.0)
    log(f"{name}: {n} launches, measured busy fraction {busy / args.seconds:.2f}")


def wl_hash_memhard(args, sampler, ctx):
    import cupy
    import numpy as np
    if "dag" not in ctx:
        mod = cupy.RawModule(code=DAG_KERNELS)
        n_words = DAG_BYTES // 4
        dag = cupy.empty(n_words, dtype=cupy.uint32)
        mod.get_function("dag_fill")((_sm_count() * 16,), (256,), (dag, np.uint64(n_words)))
        _cupy_sync()
        ctx["dag"] = (mod.get_function("memhard"), dag, np.uint32(n_words // 32))
    kern, dag, n_lines = ctx["dag"]
    blocks = _sm_count() * 8
    out = cupy.empty(blocks * HASH_THREADS, dtype=cupy.uint32)
    state = {"seed": 0}

    def step():
        state["seed"] += 1
        kern((blocks,), (HASH_THREADS,),
             (dag, n_lines, out, np.uint32(state["seed"] & 0xFFFFFFFF), np.int32(MEMHARD_ACCESSES)))

    busy_loop(step, min(args.warmup, 1.0), _cupy_sync, sync_every=10, min_steps=3)
    sampler.set_phase("hash_memhard")
    n = busy_loop(step, args.seconds, _cupy_sync, sync_every=50)
    gb = n * blocks * HASH_THREADS * MEMHARD_ACCESSES * 128 / 1e9
    log(f"hash_memhard: {n} launches, ~{gb / args.seconds:.0f} GB/s of random 128-byte DAG reads")


def wl_idle(args, sampler, ctx):
    sampler.set_phase("idle")
    time.sleep(min(15.0, args.seconds))


WORKLOADS = {
    "idle": wl_idle,
    "llm_train": wl_llm_train,
    "llm_train_dataloader": wl_llm_train_dataloader,
    "inference": wl_inference,
    "fp32_hpc": wl_fp32_hpc,
    "fp64_hpc": wl_fp64_hpc,
    "hash_int": wl_hash_int,
    "hash_memhard": wl_hash_memhard,
    "hash_int_throttled_80": lambda a, s, c: wl_hash_int(a, s, c, "hash_int_throttled_80", 80, 20),
    "hash_int_throttled_70": lambda a, s, c: wl_hash_int(a, s, c, "hash_int_throttled_70", 70, 30),
}


def cleanup_after(name, remaining, ctx):
    """Free GPU memory that no remaining workload needs."""
    if "llm" in ctx and not (LLM_WORKLOADS & set(remaining)):
        del ctx["llm"]
    if "dag" in ctx and "hash_memhard" not in remaining:
        del ctx["dag"]
    if "torch" in sys.modules:
        try:
            import torch
            if torch.cuda.is_initialized():
                torch.cuda.synchronize()
                torch.cuda.empty_cache()
        except Exception:  # noqa: BLE001
            pass
    if "cupy" in sys.modules:
        try:
            import cupy
            cupy.get_default_memory_pool().free_all_blocks()
        except Exception:  # noqa: BLE001
            pass


def dry_run_workload(name):
    def fn(args, sampler, ctx):
        time.sleep(min(0.3, args.warmup))  # "warm-up"
        sampler.set_phase(name)
        time.sleep(min(15.0, args.seconds) if name == "idle" else args.seconds)
    return fn


# ---------------------------------------------------------------------------
# Header and summary
# ---------------------------------------------------------------------------

def versions():
    out = {}
    for mod in ("torch", "cupy", "numpy", "pynvml"):
        try:
            m = __import__(mod)
            out[mod] = getattr(m, "__version__", "installed (no __version__)")
        except Exception as e:  # noqa: BLE001
            out[mod] = f"not available ({type(e).__name__})"
    try:
        import torch
        out["torch_cuda"] = str(torch.version.cuda)
    except Exception:  # noqa: BLE001
        out["torch_cuda"] = "n/a"
    try:
        from importlib.metadata import version
        out["nvidia-ml-py"] = version("nvidia-ml-py")
    except Exception:  # noqa: BLE001
        out["nvidia-ml-py"] = "unknown"
    return out


def header_lines(args, reader, selected, dry_run):
    info = reader.info()
    ver = versions() if not dry_run else {}
    dcgmi = shutil.which("dcgmi")
    lines = [
        "GPU telemetry recorded by scripts/gpu-telemetry/record.py" + (" (DRY RUN, FAKE DATA)" if dry_run else ""),
        f"date_utc: {datetime.now(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"hostname: {socket.gethostname()}",
        f"gpu: {info.get('gpu_name')} (uuid {info.get('gpu_uuid')}, enforced power limit {info.get('power_limit_w')} W)",
        f"driver_version: {info.get('driver_version')}  nvml_version: {info.get('nvml_version')}",
        f"cuda_driver_version: {info.get('cuda_driver_version')}  torch_cuda: {ver.get('torch_cuda', 'n/a')}",
        f"torch: {ver.get('torch', 'n/a')}  cupy: {ver.get('cupy', 'n/a')}  numpy: {ver.get('numpy', 'n/a')}  "
        f"nvidia-ml-py: {ver.get('nvidia-ml-py', 'n/a')}",
        f"python: {sys.version.split()[0]}",
        f"gpm_supported: {reader.gpm_status}",
    ]
    if reader.gpm_metric_errors:
        lines.append("gpm_metric_errors: " + "; ".join(f"{k}: {v}" for k, v in reader.gpm_metric_errors.items()))
    lines += [
        f"dcgmi: {'present at ' + dcgmi if dcgmi else 'not found'} (not used)",
        "command: " + " ".join([os.path.basename(sys.executable)] + sys.argv),
        f"sample_interval_s: 1.0  seconds_per_workload: {args.seconds}  gap_seconds: {args.gap}  "
        f"warmup_seconds: {args.warmup} (warm-up not recorded)",
        "rows: workload label ('gap' = idle between workloads), t_seconds = seconds since that workload's "
        "recording started; empty cell = reading unavailable",
        "units: *_pct and gpm_* utilisations are percent 0..100 as NVML returns them (dcgm DCGM_FI_PROF_* "
        "ratio = value/100); power_w W; sm_clock_mhz MHz; fb_used_mib MiB; temp_c Celsius; "
        "pcie_*_kBps = nvmlDeviceGetPcieThroughput KB/s (NVML's own ~20 ms window); "
        "gpm_pcie_*_MBps = GPM PCIE_TX/RX_PER_SEC (nvml.h documents MiB/s); "
        "each gpm_* value is the average over the ~1 s before its row",
        "nvml basics: gpu_util_pct,mem_copy_util_pct=nvmlDeviceGetUtilizationRates; power_w=nvmlDeviceGetPowerUsage; "
        "sm_clock_mhz=nvmlDeviceGetClockInfo(SM); fb_used_mib=nvmlDeviceGetMemoryInfo.used; "
        "temp_c=nvmlDeviceGetTemperature(GPU); pcie_tx/rx_kBps=nvmlDeviceGetPcieThroughput(TX/RX_BYTES)",
        "workloads (in run order):",
    ]
    for name in selected:
        lines.append(f"  {name}: {WORKLOAD_DESCRIPTIONS[name]}")
    return lines


SUMMARY_COLUMNS = ["gpu_util_pct", "power_w"] + GPM_COLUMNS


def summary_text(rows, reader):
    names = []
    for r in rows:
        if r["workload"] not in names:
            names.append(r["workload"])
    short = {c: c.replace("gpm_", "").replace("_util", "").replace("_pct", "") for c in SUMMARY_COLUMNS}
    width = 13
    name_w = max([len("workload")] + [len(n) for n in names]) + 1
    out = ["Per-workload mean / stddev (sample stddev; n = rows). gpm_* in percent (MiB/s for pcie_*).",
           "GPM status: " + str(reader.gpm_status)]
    if reader.gpm_runtime_error:
        out.append("GPM runtime error (first): " + reader.gpm_runtime_error)
    out.append("")
    head = "workload".ljust(name_w) + "n".rjust(4) + "".join(short[c].rjust(width) for c in SUMMARY_COLUMNS)
    out.append(head)
    out.append("-" * len(head))
    for name in names:
        sel = [r for r in rows if r["workload"] == name]
        line = name.ljust(name_w) + str(len(sel)).rjust(4)
        for c in SUMMARY_COLUMNS:
            vals = [float(r[c]) for r in sel if r.get(c) is not None]
            if not vals:
                cell = "-"
            else:
                mean = statistics.fmean(vals)
                sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
                cell = f"{mean:.1f}/{sd:.1f}"
            line += cell.rjust(width)
        out.append(line)
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def parse_args(argv=None):
    default_out = os.path.join(os.environ["OUT"], "h200-telemetry.csv") if os.environ.get("OUT") \
        else "h200-telemetry.csv"
    p = argparse.ArgumentParser(
        description="Record 1 s NVML + NVML GPM telemetry while running training, inference, "
                    "HPC and miner-like workloads on one NVIDIA GPU.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", default=default_out, help="CSV output path ($OUT/h200-telemetry.csv if OUT is set)")
    p.add_argument("--seconds", type=float, default=40.0, help="recorded seconds per workload (idle: min(15, this))")
    p.add_argument("--only", default="", help="comma-separated workloads to run, in the default order. "
                                              "Choices: " + ",".join(WORKLOAD_ORDER))
    p.add_argument("--gap", type=float, default=3.0, help="idle seconds between workloads (rows labelled 'gap')")
    p.add_argument("--warmup", type=float, default=2.0, help="unrecorded warm-up seconds before each workload")
    p.add_argument("--gpu", type=int, default=0, help="NVML device index (CUDA device 0 is used for the workloads)")
    p.add_argument("--dry-run", action="store_true",
                   help="no GPU: fake sensor values and sleeps instead of workloads (tests the CSV/summary path)")
    args = p.parse_args(argv)
    if args.only:
        selected = [s.strip() for s in args.only.split(",") if s.strip()]
        unknown = [s for s in selected if s not in WORKLOADS]
        if unknown:
            p.error(f"unknown workload(s): {','.join(unknown)}; choices: {','.join(WORKLOAD_ORDER)}")
        args.selected = [w for w in WORKLOAD_ORDER if w in selected]
    else:
        args.selected = list(WORKLOAD_ORDER)
    return args


def main(argv=None):
    args = parse_args(argv)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    summary_path = os.path.splitext(args.out)[0] + "-summary.txt"

    reader = FakeReader() if args.dry_run else NvmlReader(args.gpu)
    f = open(args.out, "w", newline="")
    for line in header_lines(args, reader, args.selected, args.dry_run):
        f.write("# " + line + "\n")
    f.flush()

    sampler = Sampler(reader, f)
    sampler.start()
    ctx = {}
    t_start = time.monotonic()
    try:
        for i, name in enumerate(args.selected):
            log(f"workload {i + 1}/{len(args.selected)}: {name} (warm-up, then {args.seconds:g} s recorded)")
            sampler.set_phase(None)  # warm-up / setup is not recorded
            fn = dry_run_workload(name) if args.dry_run else WORKLOADS[name]
            try:
                fn(args, sampler, ctx)
            except Exception:  # noqa: BLE001  a failing workload must not stop the others
                warn(f"workload {name} failed:\n{traceback.format_exc()}")
            sampler.set_phase(None)
            if not args.dry_run:
                try:
                    cleanup_after(name, args.selected[i + 1:], ctx)
                except Exception:  # noqa: BLE001
                    warn(f"cleanup after {name} failed:\n{traceback.format_exc()}")
            if i + 1 < len(args.selected) and args.gap > 0:
                sampler.set_phase("gap")
                time.sleep(args.gap)
    except KeyboardInterrupt:
        warn("interrupted; writing what was recorded")
    finally:
        sampler.set_phase(None)
        sampler.stop()
        f.close()
        reader.close()

    text = summary_text(sampler.rows, reader)
    text += f"\ntotal wall time: {time.monotonic() - t_start:.0f} s; rows: {len(sampler.rows)}; csv: {args.out}\n"
    print()
    print(text, end="")
    with open(summary_path, "w") as s:
        s.write(text)
    log(f"wrote {args.out} and {summary_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
