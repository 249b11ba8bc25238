"""Goldens for MGLanguage decoders: tiny random-weight HF causal LMs (fp32, eager attention).

Each family gets a folder `Tests/MGLanguageTests/Fixtures/dec_<name>/` holding
- `config.json` in the classic (transformers 4.x) layout the released checkpoints use
  (top-level `rope_theta`),
- `model.safetensors` with the real HF key names, stored in F32, BF16 or F16. For 16-bit
  families the torch model computes with exactly the rounded weights upcast to float32,
- `expected.safetensors`: `input_ids`, `logits` for every position, `greedy` (32 tokens of
  `generate(do_sample=False)` after the prompt), `inputs_embeds` (det_uniform) and
  `embeds_logits` (all positions when feeding `inputs_embeds`, with Gemma's × √hidden applied to
  them as transformers 4.x did); metadata `min_margin` is the
  smallest top-1/top-2 logit gap along the greedy path (the greedy test is meaningful only
  when it is far above the tolerance).

Mixtral: transformers 5 keeps the experts fused (`mlp.experts.gate_up_proj`); the file uses the
checkpoint names (`block_sparse_moe.gate`, `block_sparse_moe.experts.{e}.w1/w2/w3`).
"""
import json
import os

import torch
from safetensors.torch import save_file

from . import common

PROMPT = [3, 17, 42, 9, 25, 60, 11, 5, 33, 48, 2, 57]
GREEDY_TOKENS = 32
INIT_STD = 0.25


def _families():
    base = dict(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        max_position_embeddings=128, tie_word_embeddings=False, attention_bias=False,
        bos_token_id=1, eos_token_id=2,
    )
    return [
        ("llama", "llama", "f32", 13, dict(base, num_attention_heads=4, num_key_value_heads=4, rms_norm_eps=1e-5,
                                       rope_theta=10000.0, hidden_act="silu")),
        ("llama3", "llama", "bf16", 10, dict(base, num_attention_heads=8, num_key_value_heads=2, rms_norm_eps=1e-5,
                                         rope_theta=500000.0, hidden_act="silu")),
        ("mistral", "mistral", "f16", 14, dict(base, num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5,
                                           rope_theta=10000.0, hidden_act="silu", sliding_window=5)),
        ("mixtral", "mixtral", "f32", 13, dict(base, num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5,
                                           rope_theta=1000000.0, hidden_act="silu", num_local_experts=4,
                                           num_experts_per_tok=2, sliding_window=None, intermediate_size=48)),
        ("gemma", "gemma", "bf16", 9, dict(base, num_attention_heads=4, num_key_value_heads=1, head_dim=16,
                                        rms_norm_eps=1e-6, rope_theta=10000.0, hidden_act="gelu",
                                        hidden_activation="gelu_pytorch_tanh", tie_word_embeddings=True,
                                        bos_token_id=2, eos_token_id=1, pad_token_id=0)),
    ]


def _build(model_type, config_dict):
    import transformers
    names = {"llama": "Llama", "mistral": "Mistral", "mixtral": "Mixtral", "gemma": "Gemma"}
    config_class = getattr(transformers, names[model_type] + "Config")
    model_class = getattr(transformers, names[model_type] + "ForCausalLM")
    kwargs = {k: v for k, v in config_dict.items() if k not in ("rope_theta", "hidden_activation")}
    kwargs["rope_parameters"] = {"rope_type": "default", "rope_theta": config_dict["rope_theta"]}
    if model_type == "gemma":
        kwargs["hidden_act"] = "gelu_pytorch_tanh"
    config = config_class(**kwargs)
    config._attn_implementation = "eager"
    model = model_class(config).eval()
    return model


def _checkpoint_state(model_type, model):
    """The model's state dict under the names a released checkpoint uses."""
    state = {}
    for key, value in model.state_dict().items():
        if model_type == "mixtral" and ".mlp." in key:
            prefix = key.split(".mlp.")[0] + ".block_sparse_moe."
            if key.endswith("mlp.gate.weight"):
                state[prefix + "gate.weight"] = value
            elif key.endswith("gate_up_proj"):
                inner = value.shape[1] // 2
                for e in range(value.shape[0]):
                    state[prefix + f"experts.{e}.w1.weight"] = value[e, :inner]
                    state[prefix + f"experts.{e}.w3.weight"] = value[e, inner:]
            elif key.endswith("down_proj"):
                for e in range(value.shape[0]):
                    state[prefix + f"experts.{e}.w2.weight"] = value[e]
            continue
        if model_type == "gemma" and key == "lm_head.weight":
            continue  # tied: HF checkpoints store only the embedding
        state[key] = value
    return state


def _randomise(model, dtype, seed):
    """Large enough weights that greedy choices have clear margins; rounded to the stored dtype.
    Seeds are chosen per family so the top-2 gap along the greedy path stays above ~0.03."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name:
                values = 1.0 + 0.1 * torch.randn(parameter.shape, generator=generator)
                if "gemma" in type(model).__name__.lower():
                    values = values - 1.0  # Gemma stores the offset of (1 + w)
            else:
                values = INIT_STD * torch.randn(parameter.shape, generator=generator)
            values = values.to(dtype).float()
            parameter.copy_(values)


def generate():
    common.seed_everything(0)
    torch_dtypes = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}
    for name, model_type, stored, seed, config_dict in _families():
        torch.manual_seed(0)
        model = _build(model_type, config_dict)
        _randomise(model, torch_dtypes[stored], seed)
        ids = torch.tensor([PROMPT], dtype=torch.int64)
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0].float()
            model.generation_config.eos_token_id = None
            model.generation_config.pad_token_id = 0
            out = model.generate(
                input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                max_new_tokens=GREEDY_TOKENS, min_new_tokens=GREEDY_TOKENS)
            greedy = out[0, len(PROMPT):]
            full = model(input_ids=out[:, :-1]).logits[0].float()
            path = full[len(PROMPT) - 1:]
            top2 = torch.topk(path, 2, dim=-1).values
            margin = float((top2[:, 0] - top2[:, 1]).min())
            embeds = common.det_uniform(100, (len(PROMPT), config_dict["hidden_size"]))
            scaled = embeds
            if model_type == "gemma":
                # transformers 4.x (Mini-Gemini's era) GemmaModel scales `inputs_embeds` itself, image
                # rows included; transformers 5 moved the factor into the embedding module, so the
                # 4.x behaviour is reproduced here by scaling before the call.
                scaled = embeds * torch.tensor(config_dict["hidden_size"] ** 0.5, dtype=torch.float32)
            embeds_logits = model(inputs_embeds=scaled[None]).logits[0].float()

        folder = os.path.join(common.fixture_dir("MGLanguage"), f"dec_{name}")
        os.makedirs(folder, exist_ok=True)
        state = {k: v.detach().to(torch_dtypes[stored]).contiguous()
                 for k, v in _checkpoint_state(model_type, model).items()}
        save_file(state, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
        config_json = dict(config_dict, model_type=model_type, architectures=[type(model).__name__],
                           torch_dtype={"f32": "float32", "bf16": "bfloat16", "f16": "float16"}[stored])
        with open(os.path.join(folder, "config.json"), "w") as handle:
            json.dump(config_json, handle, indent=2, sort_keys=True)
            handle.write("\n")
        expected = {
            "input_ids": ids[0], "logits": logits, "greedy": greedy.to(torch.int64),
            "inputs_embeds": embeds, "embeds_logits": embeds_logits,
        }
        clean = {k: v.detach().contiguous() for k, v in expected.items()}
        save_file(clean, os.path.join(folder, "expected.safetensors"), metadata={
            "generator": "Tools/goldens/decoders.py", "torch": torch.__version__,
            "min_margin": json.dumps(margin), "tolerance": json.dumps(1e-4)})
        print(f"dec_{name}: stored {stored}, greedy {greedy.tolist()[:8]}…, min margin {margin:.4f}")
