"""Continuous-batching benchmark of `mgm serve` (a benchmark, not a test; Documentation/Serving.md
has the figures and the machine they were measured on).

For 1, 4 and 8 concurrent streams it starts all streams at once, each generating exactly
`--tokens` tokens (ignore_eos), and measures the aggregate decode rate in the window where every
stream is decoding. Then 4 and 8 clients send requests back to back for `--seconds` and it reports
p50/p99 time to first token. Finally it reads the scheduler's counters from /health: the share of
a decode step spent outside the model's batched step (sampling, detokenising, handing text over).

Next to each wall-clock rate it prints the load average (the machine may be shared), the model
time per decode step from /health's counters, and the server's CPU seconds per generated token
(/proc), which a busy machine distorts less than wall time. `--newcomer` adds a phase where an
image request joins four running streams: the running streams' inter-token gaps before it and
while its image is encoded and its prompt prefilled.

Usage: python3 Tools/server/bench_batching.py --model DIR [--mgm PATH] [--tokens 32] [--seconds 60] [--newcomer]
       [--serve-arg=--decoder-precision --serve-arg=bf16]
"""
import argparse
import concurrent.futures
import json
import os
import statistics
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
from conftest import Server, scene_data_url  # noqa: E402

PROMPTS = ["Describe a quiet harbour at dawn.", "Write a short note about mountains.", "List some colours of autumn.",
           "Explain what a lighthouse does.", "Tell a story about a red fox.", "What makes bread rise?",
           "Describe the sound of rain.", "Why is the sky blue?"]


def stream(url, prompt, tokens, seed, image=None):
    """One streamed completion; returns (start, first-token time, chunk times)."""
    content = prompt if image is None else [{"type": "image_url", "image_url": {"url": image}}, {"type": "text", "text": prompt}]
    body = json.dumps({"messages": [{"role": "user", "content": content}], "stream": True, "temperature": 0.7, "seed": seed,
                       "max_tokens": tokens, "ignore_eos": True}).encode()
    request = urllib.request.Request(url + "/v1/chat/completions", data=body, headers={"Content-Type": "application/json"})
    start = time.monotonic()
    times = []
    with urllib.request.urlopen(request, timeout=1800) as response:
        for line in response:
            # One chunk per generated token (its text may be empty: the benchmark checkpoint's
            # tokenizer is tiny); the role chunk comes first and is not a token.
            if line.startswith(b'data: {"choices":[{"delta":{"content":') and b'"role"' not in line:
                times.append(time.monotonic())
    return start, (times[0] if times else None), times


def aggregate_rate(url, streams, tokens):
    barrier = threading.Barrier(streams)

    def run(index):
        barrier.wait()
        return stream(url, PROMPTS[index % len(PROMPTS)], tokens, index)

    with concurrent.futures.ThreadPoolExecutor(streams) as pool:
        results = list(pool.map(run, range(streams)))
    window_start = max(result[1] for result in results)
    window_end = min(result[2][-1] for result in results)
    count = sum(1 for result in results for t in result[2] if window_start < t <= window_end)
    if window_end <= window_start or count == 0:
        return None
    return count / (window_end - window_start)


def health(url):
    with urllib.request.urlopen(url + "/health") as response:
        return json.loads(response.read())


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured_phase(server, streams, tokens):
    """The aggregate rate, plus the model time per step, the rows per step and the server's CPU
    seconds per decoded row over the phase (prefills included in the CPU time)."""
    before, cpu_before = health(server.url).get("scheduler"), cpu_seconds(server.process.pid)
    load = os.getloadavg()[0]
    rate = aggregate_rate(server.url, streams, tokens)
    after, cpu_after = health(server.url).get("scheduler"), cpu_seconds(server.process.pid)
    result = {"rate": rate, "load": (load + os.getloadavg()[0]) / 2}
    if before and after and after["decode_steps"] > before["decode_steps"]:
        steps = after["decode_steps"] - before["decode_steps"]
        rows = after["decoded_rows"] - before["decoded_rows"]
        result["model_ms_per_step"] = 1000 * (after["model_seconds"] - before["model_seconds"]) / steps
        result["rows_per_step"] = rows / steps
        result["cpu_s_per_row"] = (cpu_after - cpu_before) / rows
    return result


def newcomer_gaps(url, streams, tokens):
    """`streams` text streams decode; when each has a few tokens, an image request joins. Returns
    the running streams' median inter-token gap before it, and the median and largest gap while
    it was admitted (from its start to its first token), plus its time to first token."""
    results = {}
    started = threading.Event()

    def runner(index):
        # Long enough to still be decoding while the newcomer's vision and prefill run.
        results[index] = stream(url, PROMPTS[index % len(PROMPTS)], max(tokens, 256), index)

    threads = [threading.Thread(target=runner, args=(index,)) for index in range(streams)]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    # Wait until the streams are decoding (their first tokens come after their prefills).
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        h = health(url)
        if h["active"] >= streams and h["scheduler"]["decoded_rows"] >= 4 * streams:
            break
        time.sleep(0.05)
    start, first, _ = stream(url, "Describe the image.", 1, 7, image=scene_data_url())
    for thread in threads:
        thread.join()
    before, during = [], []
    for _, _, times in results.values():
        for previous, current in zip(times, times[1:]):
            if current <= start:
                before.append(current - previous)
            elif previous < first and current > start:
                during.append(current - previous)
    return {"gap_before": statistics.median(before) if before else None,
            "gap_during_median": statistics.median(during) if during else None,
            "gap_during_max": max(during) if during else None, "newcomer_ttft": first - start}


def ttft_percentiles(url, clients, seconds, tokens):
    deadline = time.monotonic() + seconds
    samples = []
    lock = threading.Lock()

    def client(index):
        n = 0
        while time.monotonic() < deadline:
            start, first, _ = stream(url, PROMPTS[(index + n) % len(PROMPTS)], tokens, index * 1000 + n)
            with lock:
                samples.append(first - start)
            n += 1

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    samples.sort()
    p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]  # noqa: E731
    return len(samples), p(0.5), p(0.99)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--mgm", default=None)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--no-batching", action="store_true")
    parser.add_argument("--newcomer", action="store_true", help="measure the running streams' gaps while an image request joins")
    parser.add_argument("--serve-arg", action="append", default=[],
                        help="an extra `mgm serve` argument, e.g. --serve-arg=--decoder-precision --serve-arg=bf16")
    args = parser.parse_args()
    if args.mgm:
        os.environ["MGM"] = args.mgm
    extra = (["--no-batching"] if args.no_batching else []) + args.serve_arg
    server = Server("--model", args.model, "--max-batch", "8", *extra, startup_seconds=900)
    try:
        print(f"load average at start: {os.getloadavg()[0]:.1f}", flush=True)
        stream(server.url, "warm up", 4, 0)
        phases = {}
        for streams in (1, 4, 8):
            phase = measured_phase(server, streams, args.tokens)
            phases[streams] = phase
            text = f"{streams} streams: aggregate decode {phase['rate']:.2f} tok/s"
            if streams > 1:
                text += f" ({phase['rate'] / phases[1]['rate']:.2f}× one stream)"
            if "model_ms_per_step" in phase:
                text += (f"; model {phase['model_ms_per_step']:.0f} ms/step at {phase['rows_per_step']:.1f} rows/step; "
                         f"server CPU {phase['cpu_s_per_row']:.3f} s/token")
                if streams > 1 and "cpu_s_per_row" in phases[1]:
                    text += f" ({phases[1]['cpu_s_per_row'] / phase['cpu_s_per_row']:.2f}× one stream)"
            print(text + f"; load {phase['load']:.1f}", flush=True)
        if args.newcomer:
            gaps = newcomer_gaps(server.url, 4, args.tokens)
            seconds = {k: "n/a" if v is None else f"{v:.3f}" for k, v in gaps.items()}
            print(f"newcomer with an image joining 4 streams (load {os.getloadavg()[0]:.1f}): running streams' inter-token gap "
                  f"median {seconds['gap_before']} s before; while it was admitted median {seconds['gap_during_median']} s, "
                  f"largest {seconds['gap_during_max']} s; its time to first token {seconds['newcomer_ttft']} s", flush=True)
        for clients in (4, 8):
            n, p50, p99 = ttft_percentiles(server.url, clients, args.seconds, 8)
            print(f"{clients} clients: time to first token p50 {p50:.3f} s, p99 {p99:.3f} s ({n} requests; "
                  f"load {os.getloadavg()[0]:.1f})", flush=True)
        h = health(server.url)
        if "scheduler" in h:
            s = h["scheduler"]
            print(f"scheduler: {s['decode_steps']} steps, {s['decoded_rows']} rows, overhead outside the model step "
                  f"{100 * s['overhead_fraction']:.2f}% of the model step time", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
