"""Continuous-batching benchmark of `mgm serve` (a benchmark, not a test; Documentation/Serving.md
has the figures and the machine they were measured on).

For 1, 4 and 8 concurrent streams it starts all streams at once, each generating exactly
`--tokens` tokens (ignore_eos), and measures the aggregate decode rate in the window where every
stream is decoding. Then 4 and 8 clients send requests back to back for `--seconds` and it reports
p50/p99 time to first token. Finally it reads the scheduler's counters from /health: the share of
a decode step spent outside the model's batched step (sampling, detokenising, handing text over).

Usage: python3 Tools/server/bench_batching.py --model DIR [--mgm PATH] [--tokens 32] [--seconds 60]
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
from conftest import Server  # noqa: E402

PROMPTS = ["Describe a quiet harbour at dawn.", "Write a short note about mountains.", "List some colours of autumn.",
           "Explain what a lighthouse does.", "Tell a story about a red fox.", "What makes bread rise?",
           "Describe the sound of rain.", "Why is the sky blue?"]


def stream(url, prompt, tokens, seed):
    """One streamed completion; returns (start, first-token time, chunk times)."""
    body = json.dumps({"messages": [{"role": "user", "content": prompt}], "stream": True, "temperature": 0.7, "seed": seed,
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
    args = parser.parse_args()
    if args.mgm:
        os.environ["MGM"] = args.mgm
    extra = ["--no-batching"] if args.no_batching else []
    server = Server("--model", args.model, "--max-batch", "8", *extra, startup_seconds=900)
    try:
        stream(server.url, "warm up", 4, 0)
        rates = {}
        for streams in (1, 4, 8):
            rates[streams] = aggregate_rate(server.url, streams, args.tokens)
            print(f"{streams} streams: aggregate decode {rates[streams]:.2f} tok/s"
                  + (f" ({rates[streams] / rates[1]:.2f}× one stream)" if streams > 1 else ""), flush=True)
        for clients in (4, 8):
            n, p50, p99 = ttft_percentiles(server.url, clients, args.seconds, 8)
            print(f"{clients} clients: time to first token p50 {p50:.3f} s, p99 {p99:.3f} s ({n} requests)", flush=True)
        with urllib.request.urlopen(server.url + "/health") as response:
            health = json.loads(response.read())
        if "scheduler" in health:
            s = health["scheduler"]
            print(f"scheduler: {s['decode_steps']} steps, {s['decoded_rows']} rows, overhead outside the model step "
                  f"{100 * s['overhead_fraction']:.2f}% of the model step time", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
