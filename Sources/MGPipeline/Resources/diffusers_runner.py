#!/usr/bin/env python3
"""Text-to-image runner behind MGPipeline's DiffusersImageGenerator (Hugging Face diffusers).

Protocol (version 1), one JSON object per line:
- stdin: one request per line; the runner handles them in order and exits at end of input.
  {"model": folder or hub id, "pipeline": "StableDiffusionXLPipeline", "device": "auto"|"cpu"|"cuda"|...,
   "dtype": "auto"|"float32"|"float16"|"bfloat16", "variant": null|"fp16", "threads": null|int,
   "prompt": str, "negative_prompt": str|null, "width": int, "height": int, "steps": int,
   "guidance": float, "seed": int|null, "output": PNG path}
- stdout: events {"event": "loading"|"loaded"|"step"|"decoding"|"done"|"error"|"check", ...}.
  Anything the libraries print is sent to stderr, so stdout carries only events.
- `--check` reports the Python, torch and diffusers versions and exits.

Exit status: 0 success, 3 a package is missing, 4 the weights are missing, 5 invalid request,
1 anything else (the "error" event then carries the exception text).

Mini-Gemini's CLI (mgm/serve/cli.py) loads SDXL base 1.0 in float16 on CUDA and calls the pipeline
with only the prompt and a fixed negative prompt; every other value is a diffusers default. The
caller sends those defaults explicitly so a newer diffusers cannot change them silently.
"""

import json
import os
import random
import sys
import time

EXIT_MISSING_PACKAGE = 3
EXIT_WEIGHTS_MISSING = 4
EXIT_INVALID_REQUEST = 5


class RunnerError(Exception):
    def __init__(self, kind, message, status, **details):
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.details = details


def open_event_channel():
    """Keeps the real stdout for events and points fd 1 (and sys.stdout) at stderr."""
    channel = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return channel


def import_backend():
    try:
        import torch
        import diffusers
        import transformers  # noqa: F401  (the text encoders and tokenizers of every SD pipeline)
    except ImportError as error:
        name = getattr(error, "name", None) or str(error)
        raise RunnerError("missing_package", f"cannot import {name}: {error}", EXIT_MISSING_PACKAGE, name=name)
    return torch, diffusers


def looks_like_path(model):
    return model.startswith(("/", "./", "../", "~")) or os.path.isdir(os.path.expanduser(model))


def pick_device(torch, requested):
    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(torch, requested, device):
    if requested == "auto":
        # Half precision is what the official code uses on GPU; on CPU it is slow or unsupported.
        return torch.float16 if device in ("cuda", "mps") else torch.float32
    table = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    if requested not in table:
        raise RunnerError("invalid_request", f"unknown dtype {requested!r}", EXIT_INVALID_REQUEST)
    return table[requested]


def local_model_path(request):
    """The request's model folder when it names one, checked before the slow torch import."""
    model = request.get("model") or ""
    if not looks_like_path(model):
        return model
    model = os.path.expanduser(model)
    if not os.path.isfile(os.path.join(model, "model_index.json")):
        raise RunnerError("weights_missing", f"no diffusers pipeline at {model} (model_index.json not found)", EXIT_WEIGHTS_MISSING)
    return model


def load_pipeline(torch, diffusers, request, emit):
    model = local_model_path(request)
    class_name = request.get("pipeline") or "StableDiffusionXLPipeline"
    pipeline_class = getattr(diffusers, class_name, None)
    if pipeline_class is None:
        raise RunnerError("invalid_request", f"diffusers has no pipeline class {class_name}", EXIT_INVALID_REQUEST)
    device = pick_device(torch, request.get("device") or "auto")
    dtype = pick_dtype(torch, request.get("dtype") or "auto", device)
    emit("loading", model=model, device=device, dtype=str(dtype).replace("torch.", ""))
    start = time.monotonic()
    options = {"torch_dtype": dtype, "use_safetensors": True}
    if request.get("variant"):
        options["variant"] = request["variant"]
    try:
        pipeline = pipeline_class.from_pretrained(model, **options)
    except ImportError as error:
        name = getattr(error, "name", None) or str(error)
        raise RunnerError("missing_package", f"loading {model} needs {name}: {error}", EXIT_MISSING_PACKAGE, name=name)
    except (OSError, FileNotFoundError) as error:
        # huggingface_hub's LocalEntryNotFoundError / EntryNotFoundError and diffusers' "Error no
        # file named …" are all OSErrors: the files are not where they were looked for.
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0", "false", "False")
        hint = " (HF_HUB_OFFLINE is set: only the local cache was searched)" if offline else ""
        raise RunnerError("weights_missing", f"cannot load {model}{hint}: {error}", EXIT_WEIGHTS_MISSING)
    pipeline = pipeline.to(device)
    pipeline.set_progress_bar_config(disable=True)
    emit("loaded", seconds=round(time.monotonic() - start, 3))
    return pipeline


def validate(request):
    for key in ("prompt", "width", "height", "steps", "guidance", "output"):
        if key not in request:
            raise RunnerError("invalid_request", f"missing field {key}", EXIT_INVALID_REQUEST)
    if request["width"] % 8 or request["height"] % 8 or request["width"] <= 0 or request["height"] <= 0:
        raise RunnerError("invalid_request", "width and height must be positive multiples of 8", EXIT_INVALID_REQUEST)
    if request["steps"] < 1:
        raise RunnerError("invalid_request", "steps must be at least 1", EXIT_INVALID_REQUEST)


def render(torch, pipeline, request, emit):
    validate(request)
    seed = request.get("seed")
    if seed is None:
        # The official code sets no seed; draw one and report it so the image can be reproduced.
        seed = random.SystemRandom().randrange(2**63)
    # A CPU generator gives the same latents whatever device runs the UNet.
    generator = torch.Generator(device="cpu").manual_seed(seed)
    steps = request["steps"]

    def on_step_end(_pipeline, index, _timestep, tensors):
        emit("step", step=index + 1, total=steps)
        if index + 1 == steps:
            emit("decoding")
        return tensors

    start = time.monotonic()
    result = pipeline(
        prompt=request["prompt"], negative_prompt=request.get("negative_prompt"),
        width=request["width"], height=request["height"], num_inference_steps=steps,
        guidance_scale=request["guidance"], generator=generator, callback_on_step_end=on_step_end)
    image = result.images[0]
    image.save(request["output"], format="PNG")
    emit("done", output=request["output"], seed=seed, width=image.width, height=image.height,
         seconds=round(time.monotonic() - start, 3))


def main():
    channel = open_event_channel()

    def emit(event, **fields):
        channel.write(json.dumps({"event": event, **fields}) + "\n")
        channel.flush()

    try:
        if "--check" in sys.argv[1:]:
            torch, diffusers = import_backend()
            emit("check", protocol=1, python=sys.version.split()[0], torch=torch.__version__, diffusers=diffusers.__version__)
            return 0
        torch = diffusers = None
        pipelines = {}
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                request = json.loads(line)
            except json.JSONDecodeError as error:
                raise RunnerError("invalid_request", f"request is not JSON: {error}", EXIT_INVALID_REQUEST)
            local_model_path(request)
            if torch is None:
                torch, diffusers = import_backend()
            key = tuple(request.get(k) for k in ("model", "pipeline", "device", "dtype", "variant"))
            if request.get("threads"):
                torch.set_num_threads(int(request["threads"]))
            if key not in pipelines:
                pipelines.clear()  # one pipeline in memory at a time
                pipelines[key] = load_pipeline(torch, diffusers, request, emit)
            render(torch, pipelines[key], request, emit)
        return 0
    except RunnerError as error:
        emit("error", kind=error.kind, message=str(error), **error.details)
        return error.status
    except Exception as error:  # reported to Swift as a runner failure with the exception text
        import traceback
        traceback.print_exc()
        emit("error", kind="failed", message=f"{type(error).__name__}: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
