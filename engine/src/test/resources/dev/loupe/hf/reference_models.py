#!/usr/bin/python3
"""Reference checkpoints for Loupe's Hugging Face loader, and their logits.

For each case this writes a small randomly initialised model folder in the exact layout the
Hugging Face `transformers` library saves (config.json with the real key names, model.safetensors
or a sharded model.safetensors.index.json, weights under HF's tensor names and shapes), then runs
the model with a PyTorch forward pass written here from each family's published modelling code
(GPT2Model / GPTNeoXModel / LlamaModel / MistralModel / Qwen2Model / Gemma2Model), in float64,
and saves the logits for fixed tokens as logits.npy (float32, [batch, pos, vocab]).

Nothing here shares code with Loupe: the forward passes read the HF tensors in HF's own layout
(nn.Linear weights [out, in], GPT-2's Conv1D weights [in, out], GPT-NeoX's per-head interleaved
query_key_value). Weights stored as BF16/F16 are rounded first, and the reference runs on the
rounded values, so the comparison measures the loader and the forward pass, not the rounding.

Needs only Debian's python3, python3-numpy and python3-torch (no transformers, no safetensors:
the safetensors files are written by the small writer below). Weights come from numpy's PCG64
generator, so the files are identical from run to run.

    usage: reference_models.py OUT_DIR [CASE ...]
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

TOKENS = [[3, 17, 9, 30, 1, 22, 7, 7, 12, 29], [0, 5, 31, 14, 2, 26, 19, 8, 11, 4]]

# ----------------------------------------------------------------------------- safetensors


def _bytes(array, dtype):
    """Little-endian bytes of a float array stored as F32, F16 or BF16."""
    if dtype == "F32":
        return np.ascontiguousarray(array, dtype="<f4").tobytes()
    if dtype == "F16":
        return np.ascontiguousarray(array, dtype="<f2").tobytes()
    if dtype == "BF16":
        t = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).to(torch.bfloat16)
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    raise ValueError(dtype)


def rounded(array, dtype):
    """The values a reader gets back from `array` stored as `dtype`, as float64."""
    if dtype == "F32":
        return np.asarray(array, dtype=np.float32).astype(np.float64)
    if dtype == "F16":
        return np.asarray(array, dtype=np.float16).astype(np.float64)
    t = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).to(torch.bfloat16)
    return t.to(torch.float64).numpy()


def write_safetensors(path, tensors, dtype, metadata=None):
    """The safetensors layout: u64 header length, JSON header (padded to 8 bytes), data."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, array in tensors.items():
        data = _bytes(array, dtype)
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)


def write_folder(out, config, tensors, dtype, shards=1):
    """config.json plus one model.safetensors, or `shards` files and model.safetensors.index.json."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    if shards == 1:
        write_safetensors(os.path.join(out, "model.safetensors"), tensors, dtype, {"format": "pt"})
        return
    names = list(tensors)
    weight_map, total = {}, 0
    for s in range(shards):
        file = "model-%05d-of-%05d.safetensors" % (s + 1, shards)
        part = {n: tensors[n] for n in names[s::shards]}
        write_safetensors(os.path.join(out, file), part, dtype, {"format": "pt"})
        for n, a in part.items():
            weight_map[n] = file
            total += len(_bytes(a, dtype))
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
        f.write("\n")


class Init:
    """Random weights: matrices ~ N(0, std^2), biases ~ N(0, 0.1^2), norm weights ~ 1 + N(0, 0.1^2)."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.tensors = {}

    def matrix(self, name, *shape, std=0.15):
        self.tensors[name] = (self.rng.standard_normal(shape) * std).astype(np.float32)

    def bias(self, name, n):
        self.tensors[name] = (self.rng.standard_normal(n) * 0.1).astype(np.float32)

    def norm(self, name, n, offset=1.0):
        self.tensors[name] = (offset + self.rng.standard_normal(n) * 0.1).astype(np.float32)


# ----------------------------------------------------------------------------- shared math


def t(weights, name):
    return torch.from_numpy(weights[name])


def layer_norm(x, w, b, eps):
    return F.layer_norm(x, (x.shape[-1],), w, b, eps)


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def gelu_tanh(x):  # GPT-2's gelu_new and PyTorch's gelu(approximate="tanh")
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rope_cos_sin(inv_freq, T):
    """cos, sin [T, dim] for positions 0..T-1, as HF's rotary embedding modules build them."""
    freqs = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def default_inv_freq(base, dim):
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).double() / dim))


def llama3_inv_freq(base, dim, factor, low_freq_factor, high_freq_factor, old_context_len):
    """transformers.modeling_rope_utils._compute_llama3_parameters."""
    inv_freq = default_inv_freq(base, dim)
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)


def allowed(T, window=None):
    """[T, T] bool: key j visible from query i (causal; with a window, i - window < j)."""
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    ok = j <= i
    if window is not None:
        ok = ok & (j > i - window)
    return ok


def softmax_attention(q, k, v, scaling, visible, softcap=None):
    """q [B, H, T, d], k/v [B, H, T, d] (already repeated for GQA) -> [B, T, H * d]."""
    scores = torch.matmul(q, k.transpose(2, 3)) * scaling
    if softcap is not None:
        scores = torch.tanh(scores / softcap) * softcap
    scores = scores.masked_fill(~visible, float("-inf"))
    out = torch.matmul(torch.softmax(scores, dim=-1), v)
    B, H, T, d = out.shape
    return out.transpose(1, 2).reshape(B, T, H * d)


def repeat_kv(x, n_rep):
    return x if n_rep == 1 else torch.repeat_interleave(x, n_rep, dim=1)


# ----------------------------------------------------------------------------- GPT-2


def gpt2_weights(cfg, seed):
    d, L, V, P = cfg["n_embd"], cfg["n_layer"], cfg["vocab_size"], cfg["n_positions"]
    m = cfg["n_inner"] or 4 * d
    w = Init(seed)
    w.matrix("wte.weight", V, d)
    w.matrix("wpe.weight", P, d, std=0.05)
    for i in range(L):
        h = "h.%d." % i
        w.norm(h + "ln_1.weight", d)
        w.bias(h + "ln_1.bias", d)
        w.matrix(h + "attn.c_attn.weight", d, 3 * d)  # Conv1D: [in, out]
        w.bias(h + "attn.c_attn.bias", 3 * d)
        w.matrix(h + "attn.c_proj.weight", d, d)
        w.bias(h + "attn.c_proj.bias", d)
        w.norm(h + "ln_2.weight", d)
        w.bias(h + "ln_2.bias", d)
        w.matrix(h + "mlp.c_fc.weight", d, m)
        w.bias(h + "mlp.c_fc.bias", m)
        w.matrix(h + "mlp.c_proj.weight", m, d)
        w.bias(h + "mlp.c_proj.bias", d)
    w.norm("ln_f.weight", d)
    w.bias("ln_f.bias", d)
    return w.tensors


def gpt2_forward(cfg, W, idx):
    """nanoGPT's forward (karpathy/nanoGPT model.py) on HF GPT2Model tensors."""
    d, nh, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    B, T = idx.shape
    x = t(W, "wte.weight")[idx] + t(W, "wpe.weight")[torch.arange(T)]
    for i in range(cfg["n_layer"]):
        h = "h.%d." % i
        a = layer_norm(x, t(W, h + "ln_1.weight"), t(W, h + "ln_1.bias"), eps)
        q, k, v = (a @ t(W, h + "attn.c_attn.weight") + t(W, h + "attn.c_attn.bias")).split(d, dim=2)
        q, k, v = (z.view(B, T, nh, d // nh).transpose(1, 2) for z in (q, k, v))
        y = softmax_attention(q, k, v, 1.0 / math.sqrt(d // nh), allowed(T))
        x = x + y @ t(W, h + "attn.c_proj.weight") + t(W, h + "attn.c_proj.bias")
        m = layer_norm(x, t(W, h + "ln_2.weight"), t(W, h + "ln_2.bias"), eps)
        m = gelu_tanh(m @ t(W, h + "mlp.c_fc.weight") + t(W, h + "mlp.c_fc.bias"))
        x = x + m @ t(W, h + "mlp.c_proj.weight") + t(W, h + "mlp.c_proj.bias")
    x = layer_norm(x, t(W, "ln_f.weight"), t(W, "ln_f.bias"), eps)
    return x @ t(W, "wte.weight").T  # tied lm_head


# ----------------------------------------------------------------------------- GPT-NeoX (Pythia)


def neox_weights(cfg, seed):
    d, L, V, m = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["vocab_size"], cfg["intermediate_size"]
    w = Init(seed)
    w.matrix("gpt_neox.embed_in.weight", V, d)
    for i in range(L):
        p = "gpt_neox.layers.%d." % i
        w.norm(p + "input_layernorm.weight", d)
        w.bias(p + "input_layernorm.bias", d)
        w.norm(p + "post_attention_layernorm.weight", d)
        w.bias(p + "post_attention_layernorm.bias", d)
        w.matrix(p + "attention.query_key_value.weight", 3 * d, d)  # nn.Linear: [out, in]
        w.bias(p + "attention.query_key_value.bias", 3 * d)
        w.matrix(p + "attention.dense.weight", d, d)
        w.bias(p + "attention.dense.bias", d)
        w.matrix(p + "mlp.dense_h_to_4h.weight", m, d)
        w.bias(p + "mlp.dense_h_to_4h.bias", m)
        w.matrix(p + "mlp.dense_4h_to_h.weight", d, m)
        w.bias(p + "mlp.dense_4h_to_h.bias", d)
    w.norm("gpt_neox.final_layer_norm.weight", d)
    w.bias("gpt_neox.final_layer_norm.bias", d)
    w.matrix("embed_out.weight", V, d)
    return w.tensors


def neox_forward(cfg, W, idx):
    """transformers GPTNeoXForCausalLM: fused qkv laid out [heads, 3, head_size], partial rotary."""
    d, nh, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    hs = d // nh
    rot = int(hs * cfg["rotary_pct"])
    B, T = idx.shape
    cos, sin = rope_cos_sin(default_inv_freq(cfg["rotary_emb_base"], rot), T)
    visible = allowed(T)
    x = t(W, "gpt_neox.embed_in.weight")[idx]
    for i in range(cfg["num_hidden_layers"]):
        p = "gpt_neox.layers.%d." % i

        def lin(z, name):
            return F.linear(z, t(W, p + name + ".weight"), t(W, p + name + ".bias"))

        a = layer_norm(x, t(W, p + "input_layernorm.weight"), t(W, p + "input_layernorm.bias"), eps)
        qkv = lin(a, "attention.query_key_value").view(B, T, nh, 3 * hs)
        q = qkv[..., :hs].permute(0, 2, 1, 3)
        k = qkv[..., hs: 2 * hs].permute(0, 2, 1, 3)
        v = qkv[..., 2 * hs:].permute(0, 2, 1, 3)
        q = torch.cat((q[..., :rot] * cos + rotate_half(q[..., :rot]) * sin, q[..., rot:]), dim=-1)
        k = torch.cat((k[..., :rot] * cos + rotate_half(k[..., :rot]) * sin, k[..., rot:]), dim=-1)
        attn = lin(softmax_attention(q, k, v, 1.0 / math.sqrt(hs), visible), "attention.dense")

        def mlp(z):
            return lin(F.gelu(lin(z, "mlp.dense_h_to_4h")), "mlp.dense_4h_to_h")

        ln2 = (t(W, p + "post_attention_layernorm.weight"), t(W, p + "post_attention_layernorm.bias"))
        if cfg["use_parallel_residual"]:
            x = mlp(layer_norm(x, *ln2, eps)) + attn + x
        else:
            attn = attn + x
            x = mlp(layer_norm(attn, *ln2, eps)) + attn
    x = layer_norm(x, t(W, "gpt_neox.final_layer_norm.weight"), t(W, "gpt_neox.final_layer_norm.bias"), eps)
    return F.linear(x, t(W, "embed_out.weight"))


# ----------------------------------------------------------------------------- Llama / Mistral / Qwen2


def llama_weights(cfg, seed, qkv_bias=False):
    d, L, V, m = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["vocab_size"], cfg["intermediate_size"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or d // nh
    w = Init(seed)
    w.matrix("model.embed_tokens.weight", V, d)
    for i in range(L):
        p = "model.layers.%d." % i
        w.norm(p + "input_layernorm.weight", d)
        w.matrix(p + "self_attn.q_proj.weight", nh * hd, d)
        w.matrix(p + "self_attn.k_proj.weight", nkv * hd, d)
        w.matrix(p + "self_attn.v_proj.weight", nkv * hd, d)
        if qkv_bias:
            w.bias(p + "self_attn.q_proj.bias", nh * hd)
            w.bias(p + "self_attn.k_proj.bias", nkv * hd)
            w.bias(p + "self_attn.v_proj.bias", nkv * hd)
        w.matrix(p + "self_attn.o_proj.weight", d, nh * hd)
        w.norm(p + "post_attention_layernorm.weight", d)
        w.matrix(p + "mlp.gate_proj.weight", m, d)
        w.matrix(p + "mlp.up_proj.weight", m, d)
        w.matrix(p + "mlp.down_proj.weight", d, m)
    w.norm("model.norm.weight", d)
    if not cfg.get("tie_word_embeddings", False):
        w.matrix("lm_head.weight", V, d)
    return w.tensors


def llama_forward(cfg, W, idx, sliding_layers=()):
    """transformers LlamaForCausalLM (and Mistral/Qwen2, which differ only in biases and windows)."""
    d, nh, nkv, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["rms_norm_eps"]
    hd = cfg.get("head_dim") or d // nh
    B, T = idx.shape
    rs = cfg.get("rope_scaling")
    if rs:
        inv = llama3_inv_freq(cfg["rope_theta"], hd, rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"],
                              rs["original_max_position_embeddings"])
    else:
        inv = default_inv_freq(cfg["rope_theta"], hd)
    cos, sin = rope_cos_sin(inv, T)

    def opt(name):
        return t(W, name) if name in W else None

    x = t(W, "model.embed_tokens.weight")[idx]
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        a = rms_norm(x, t(W, p + "input_layernorm.weight"), eps)
        q = F.linear(a, t(W, p + "self_attn.q_proj.weight"), opt(p + "self_attn.q_proj.bias"))
        k = F.linear(a, t(W, p + "self_attn.k_proj.weight"), opt(p + "self_attn.k_proj.bias"))
        v = F.linear(a, t(W, p + "self_attn.v_proj.weight"), opt(p + "self_attn.v_proj.bias"))
        q = q.view(B, T, nh, hd).transpose(1, 2)
        k = k.view(B, T, nkv, hd).transpose(1, 2)
        v = v.view(B, T, nkv, hd).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        window = cfg["sliding_window"] if i in sliding_layers else None
        y = softmax_attention(q, repeat_kv(k, nh // nkv), repeat_kv(v, nh // nkv), hd ** -0.5, allowed(T, window))
        x = x + F.linear(y, t(W, p + "self_attn.o_proj.weight"))
        m = rms_norm(x, t(W, p + "post_attention_layernorm.weight"), eps)
        m = F.linear(F.silu(F.linear(m, t(W, p + "mlp.gate_proj.weight"))) * F.linear(m, t(W, p + "mlp.up_proj.weight")),
                     t(W, p + "mlp.down_proj.weight"))
        x = x + m
    x = rms_norm(x, t(W, "model.norm.weight"), eps)
    head = t(W, "model.embed_tokens.weight") if cfg.get("tie_word_embeddings", False) else t(W, "lm_head.weight")
    return F.linear(x, head)


# ----------------------------------------------------------------------------- Gemma 2


def gemma2_weights(cfg, seed):
    d, L, V, m = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["vocab_size"], cfg["intermediate_size"]
    nh, nkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    w = Init(seed)
    w.matrix("model.embed_tokens.weight", V, d)
    for i in range(L):
        p = "model.layers.%d." % i
        for n in ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                  "post_feedforward_layernorm"):
            w.norm(p + n + ".weight", d, offset=0.0)  # Gemma scales by (1 + weight)
        w.matrix(p + "self_attn.q_proj.weight", nh * hd, d)
        w.matrix(p + "self_attn.k_proj.weight", nkv * hd, d)
        w.matrix(p + "self_attn.v_proj.weight", nkv * hd, d)
        w.matrix(p + "self_attn.o_proj.weight", d, nh * hd)
        w.matrix(p + "mlp.gate_proj.weight", m, d)
        w.matrix(p + "mlp.up_proj.weight", m, d)
        w.matrix(p + "mlp.down_proj.weight", d, m)
    w.norm("model.norm.weight", d, offset=0.0)
    return w.tensors


def gemma2_forward(cfg, W, idx):
    """transformers Gemma2ForCausalLM (eager attention), computed in float64."""
    d, nh, nkv, hd, eps = (cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"],
                           cfg["head_dim"], cfg["rms_norm_eps"])
    B, T = idx.shape
    cos, sin = rope_cos_sin(default_inv_freq(cfg["rope_theta"], hd), T)

    def norm(z, name):  # Gemma2RMSNorm: x / rms * (1 + w)
        return z * torch.rsqrt(z.pow(2).mean(-1, keepdim=True) + eps) * (1.0 + t(W, name))

    x = t(W, "model.embed_tokens.weight")[idx] * (d ** 0.5)
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        is_sliding = not bool(i % 2)  # Gemma2DecoderLayer: local attention on even layers
        a = norm(x, p + "input_layernorm.weight")
        q = F.linear(a, t(W, p + "self_attn.q_proj.weight")).view(B, T, nh, hd).transpose(1, 2)
        k = F.linear(a, t(W, p + "self_attn.k_proj.weight")).view(B, T, nkv, hd).transpose(1, 2)
        v = F.linear(a, t(W, p + "self_attn.v_proj.weight")).view(B, T, nkv, hd).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        visible = allowed(T, cfg["sliding_window"] if is_sliding else None)
        y = softmax_attention(q, repeat_kv(k, nh // nkv), repeat_kv(v, nh // nkv),
                              cfg["query_pre_attn_scalar"] ** -0.5, visible, cfg["attn_logit_softcapping"])
        x = x + norm(F.linear(y, t(W, p + "self_attn.o_proj.weight")), p + "post_attention_layernorm.weight")
        m = norm(x, p + "pre_feedforward_layernorm.weight")
        m = F.linear(gelu_tanh(F.linear(m, t(W, p + "mlp.gate_proj.weight"))) * F.linear(m, t(W, p + "mlp.up_proj.weight")),
                     t(W, p + "mlp.down_proj.weight"))
        x = x + norm(m, p + "post_feedforward_layernorm.weight")
    x = norm(x, "model.norm.weight")
    logits = F.linear(x, t(W, "model.embed_tokens.weight"))
    cap = cfg["final_logit_softcapping"]
    return torch.tanh(logits / cap) * cap


# ----------------------------------------------------------------------------- the cases

V = 32


def common(model_type, arch, **kw):
    c = {"model_type": model_type, "architectures": [arch], "torch_dtype": "float32",
         "transformers_version": "4.44.0", "bos_token_id": 0, "eos_token_id": 1, "use_cache": True}
    c.update(kw)
    return c


def llama_like(model_type, arch, **kw):
    c = common(model_type, arch, vocab_size=V, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
               num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-5,
               rope_theta=10000.0, hidden_act="silu", tie_word_embeddings=False, initializer_range=0.02)
    c.update(kw)
    return c


CASES = {
    # name: (config, weights(cfg, seed), forward(cfg, W, idx), stored dtype, shards)
    "gpt2": (common("gpt2", "GPT2LMHeadModel", vocab_size=V, n_embd=16, n_layer=2, n_head=2, n_positions=16,
                    n_ctx=16, n_inner=32, layer_norm_epsilon=1e-5, activation_function="gelu_new",
                    scale_attn_weights=True, scale_attn_by_inverse_layer_idx=False, reorder_and_upcast_attn=False,
                    resid_pdrop=0.1, embd_pdrop=0.1, attn_pdrop=0.1, tie_word_embeddings=True),
             gpt2_weights, gpt2_forward, "F32", 1),
    # Pythia: parallel attention + MLP, rotary on a quarter of each head; sharded in two files.
    "pythia": (common("gpt_neox", "GPTNeoXForCausalLM", vocab_size=V, hidden_size=16, intermediate_size=32,
                      num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=64, rotary_pct=0.25,
                      rotary_emb_base=10000, layer_norm_eps=1e-5, hidden_act="gelu", use_parallel_residual=True,
                      tie_word_embeddings=False, attention_bias=True),
               neox_weights, neox_forward, "F32", 2),
    # GPT-NeoX with use_parallel_residual=false; stored as F16.
    "gpt_neox_sequential_f16": (common("gpt_neox", "GPTNeoXForCausalLM", vocab_size=V, hidden_size=16,
                                   intermediate_size=24, num_hidden_layers=2, num_attention_heads=4,
                                   max_position_embeddings=64, rotary_pct=0.5, rotary_emb_base=1000,
                                   layer_norm_eps=1e-5, hidden_act="gelu", use_parallel_residual=False,
                                   tie_word_embeddings=False, torch_dtype="float16"),
                            neox_weights, neox_forward, "F16", 1),
    "llama": (llama_like("llama", "LlamaForCausalLM", intermediate_size=24, rope_scaling=None, attention_bias=False,
                         mlp_bias=False, pretraining_tp=1),
              llama_weights, llama_forward, "F32", 1),
    # Llama 3.x: rope_scaling "llama3" (one frequency kept, one blended, two divided), tied, stored as BF16.
    "llama3_bf16": (llama_like("llama", "LlamaForCausalLM", head_dim=8, num_attention_heads=2, num_key_value_heads=1,
                               rope_theta=500000.0, max_position_embeddings=1024, tie_word_embeddings=True,
                               torch_dtype="bfloat16",
                               rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                             "high_freq_factor": 4.0, "original_max_position_embeddings": 256}),
                    llama_weights, llama_forward, "BF16", 1),
    # Mistral: a sliding window (on every layer) shorter than the sequence; stored as BF16.
    "mistral_bf16": (llama_like("mistral", "MistralForCausalLM", sliding_window=4, head_dim=4, torch_dtype="bfloat16"),
                     llama_weights, lambda c, W, i: llama_forward(c, W, i, sliding_layers=range(c["num_hidden_layers"])),
                     "BF16", 1),
    # Qwen2: q/k/v biases, no o bias; tied; stored as F16, sharded in three files.
    "qwen2_f16": (llama_like("qwen2", "Qwen2ForCausalLM", tie_word_embeddings=True, use_sliding_window=False,
                             sliding_window=4096, max_window_layers=2, torch_dtype="float16", rope_theta=1000000.0),
                  lambda c, s: llama_weights(c, s, qkv_bias=True), llama_forward, "F16", 3),
    # Gemma 2: every quirk, with values chosen so that each one changes the logits: three layers
    # (local, global, local) with a window shorter than the sequence, both soft-caps near the size of
    # what they cap, query_pre_attn_scalar != head_dim, num_heads * head_dim != hidden_size; BF16.
    "gemma2_bf16": (common("gemma2", "Gemma2ForCausalLM", vocab_size=V, hidden_size=16, intermediate_size=32,
                           num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                           max_position_embeddings=64, rms_norm_eps=1e-6, rope_theta=10000.0,
                           hidden_activation="gelu_pytorch_tanh", hidden_act="gelu_pytorch_tanh",
                           query_pre_attn_scalar=32, sliding_window=4, attn_logit_softcapping=0.5,
                           final_logit_softcapping=3.0, attention_bias=False, attention_dropout=0.0,
                           tie_word_embeddings=True, cache_implementation="hybrid", torch_dtype="bfloat16"),
                    gemma2_weights, gemma2_forward, "BF16", 1),
}


def build(name, out):
    cfg, make, forward, dtype, shards = CASES[name]
    seed = sum(map(ord, name))
    weights = make(cfg, seed)
    write_folder(out, cfg, weights, dtype, shards)
    W = {n: rounded(a, dtype) for n, a in weights.items()}
    with torch.no_grad():
        logits = forward(cfg, W, torch.tensor(TOKENS))
    np.save(os.path.join(out, "logits.npy"), logits.numpy().astype(np.float32))
    with open(os.path.join(out, "tokens.json"), "w") as f:
        json.dump(TOKENS, f)
        f.write("\n")


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    names = argv[2:] or list(CASES)
    for n in names:
        build(n, os.path.join(argv[1], n))
        print(n)


if __name__ == "__main__":
    main(sys.argv)
