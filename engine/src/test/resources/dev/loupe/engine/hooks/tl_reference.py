"""TransformerLens's forward pass, with its norm hooks, in plain PyTorch: a reference for Loupe's hooks.

Written from TransformerLens's component code (transformer_lens/components: layer_norm.py,
rms_norm.py, abstract_attention.py with rotary, mlps/mlp.py, mlps/gated_mlp.py, embed.py,
pos_embed.py, unembed.py, transformer_block.py) for the two block kinds tested here: GPT-2
(LayerNorm, learned positions, GELU MLP) and Llama (RMSNorm, rotary, grouped-query attention,
SwiGLU). It reads an unprocessed model's weights in TransformerLens's names and shapes, computes in
float64, and writes every norm's hook_scale and hook_normalized, unembed.hook_in and the logits.

usage: tl_reference.py DIR    (DIR holds config.json, tokens.npy and weights/<name>.npy; output: DIR/out)
"""
import json
import math
import os
import sys

import numpy as np
import torch

d = sys.argv[1]
cfg = json.load(open(os.path.join(d, "config.json")))
W = {f[:-4]: torch.from_numpy(np.load(os.path.join(d, "weights", f))).double()
     for f in os.listdir(os.path.join(d, "weights"))}
tokens = torch.from_numpy(np.load(os.path.join(d, "tokens.npy"))).long()  # [batch, pos]
B, T = tokens.shape
H, K, dh, eps = cfg["n_heads"], cfg["n_kv_heads"], cfg["d_head"], cfg["eps"]
hooks = {}


def hook(name, x):
    hooks[name] = x
    return x


def layer_norm(x, name):
    # components/layer_norm.py: centre, hook_scale, hook_normalized = x / scale, then * w + b
    x = x - x.mean(-1, keepdim=True)
    scale = hook(name + ".hook_scale", (x.pow(2).mean(-1, keepdim=True) + eps).sqrt())
    x = hook(name + ".hook_normalized", x / scale)
    return x * W[name + ".w"] + W[name + ".b"]


def rms_norm(x, name):
    # components/rms_norm.py: hook_scale, hook_normalized = x / scale, then * w
    scale = hook(name + ".hook_scale", (x.pow(2).mean(-1, keepdim=True) + eps).sqrt())
    x = hook(name + ".hook_normalized", x / scale)
    return x * W[name + ".w"]


norm = layer_norm if cfg["normalization"] == "LN" else rms_norm


def rotary_tables():
    # abstract_attention.calculate_sin_cos_rotary, rotate-half ("GPT-NeoX style") layout
    r = cfg["rotary_dim"]
    pos = torch.arange(T, dtype=torch.float64)
    dim = torch.arange(r // 2, dtype=torch.float64)
    freq = cfg["rotary_base"] ** (dim / (r / 2))
    angles = pos[:, None] / freq[None, :]
    angles = torch.cat([angles, angles], dim=-1)  # einops "p d -> p (2 d)"
    return torch.sin(angles), torch.cos(angles)


def apply_rotary(x, sin, cos):  # x: [batch, pos, head, d_head]
    r = cfg["rotary_dim"]
    x_pos, x_pass = x[..., :r], x[..., r:]
    rotated = torch.cat([-x_pos[..., r // 2:], x_pos[..., :r // 2]], dim=-1)
    x_rot = x_pos * cos[None, :, None, :] + rotated * sin[None, :, None, :]
    return torch.cat([x_rot, x_pass], dim=-1)


def attention(x, a):
    q = torch.einsum("bpm,hmd->bphd", x, W[a + "W_Q"]) + W.get(a + "b_Q", 0)
    k = torch.einsum("bpm,hmd->bphd", x, W[a + "W_K"]) + W.get(a + "b_K", 0)
    v = torch.einsum("bpm,hmd->bphd", x, W[a + "W_V"]) + W.get(a + "b_V", 0)
    if cfg["rotary"]:
        sin, cos = rotary_tables()
        q, k = apply_rotary(q, sin, cos), apply_rotary(k, sin, cos)
    k = torch.repeat_interleave(k, H // K, dim=2)  # grouped_query_attention
    v = torch.repeat_interleave(v, H // K, dim=2)
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(dh)
    scores = scores.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
    pattern = torch.softmax(scores, dim=-1)
    z = torch.einsum("bhqk,bkhd->bqhd", pattern, v)
    return torch.einsum("bqhd,hdm->bqm", z, W[a + "W_O"]) + W.get(a + "b_O", 0)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def mlp(x, m):
    if cfg["gated"]:  # mlps/gated_mlp.py: b_in after the product
        pre = x @ W[m + "W_gate"]
        pre_linear = x @ W[m + "W_in"]
        post = torch.nn.functional.silu(pre) * pre_linear + W.get(m + "b_in", 0)
    else:  # mlps/mlp.py
        post = gelu_new(x @ W[m + "W_in"] + W.get(m + "b_in", 0))
    return post @ W[m + "W_out"] + W.get(m + "b_out", 0)


resid = W["embed.W_E"][tokens]
if "pos_embed.W_pos" in W:
    resid = resid + W["pos_embed.W_pos"][:T][None]
for l in range(cfg["n_layers"]):
    b = f"blocks.{l}."
    resid = resid + attention(norm(resid, b + "ln1"), b + "attn.")  # transformer_block.py, sequential
    resid = resid + mlp(norm(resid, b + "ln2"), b + "mlp.")
x = hook("unembed.hook_in", norm(resid, "ln_final"))
W_U = W["unembed.W_U"] if "unembed.W_U" in W else W["embed.W_E"].T
hooks["logits"] = x @ W_U + W.get("unembed.b_U", 0)

out = os.path.join(d, "out")
os.makedirs(out, exist_ok=True)
for name, value in hooks.items():
    np.save(os.path.join(out, name + ".npy"), value.numpy())
print(len(hooks), "arrays written")
