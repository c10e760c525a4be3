#!/usr/bin/python3
"""Reference for `./loupe patch`: TransformerLens's activation patching on Hugging Face GPT-2 modules.

Builds GPT-2 as Hugging Face's GPT2Model lays it out (wte, wpe, h[l] = ln_1, attn.c_attn, attn.c_proj,
ln_2, mlp.c_fc, mlp.c_proj, ln_f; Conv1D weights [in, out]) as torch modules, loads a model folder's
model.safetensors (read by the small reader below: no transformers or safetensors package needed),
and patches with ordinary PyTorch hooks on those modules, as TransformerLens's generic_activation_patch
does with its hook points (run the corrupted prompt, overwrite one slice with the clean run's, score):

  resid_pre  l, p : forward pre-hook on h[l]          input[:, p]  = clean input[:, p]
  resid_post l, p : forward hook on h[l]              output[:, p] = clean output[:, p]
  attn_out   l, p : forward hook on h[l].attn.c_proj  output[:, p] = clean output[:, p]
  mlp_out    l, p : forward hook on h[l].mlp.c_proj   output[:, p] = clean output[:, p]
  resid_mid  l, p : forward hook on h[l].attn.c_proj  output[:, p] = clean (input of h[l] + c_proj output)[:, p]
                    - this run's input of h[l][:, p], so that the block's resid_pre + attn_out is the clean one
  head_z     l, h : forward pre-hook on h[l].attn.c_proj (the merged heads): head h's columns, every position

The metric is logits[:, -1, answer] - logits[:, -1, wrong], averaged over the batch. Computed in float64.
Writes <target>.npy ([n_layers, n_pos], head_z [n_layers, n_heads]) into OUT_DIR.

    usage: patching_reference.py MODEL_DIR "CLEAN IDS" "CORRUPT IDS" ANSWER WRONG OUT_DIR
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

torch.set_default_dtype(torch.float64)

DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8"}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        a = np.frombuffer(data[start:end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.tensor(a.astype(np.float64))
    return out


class Conv1D(nn.Module):
    """transformers.pytorch_utils.Conv1D: y = x @ weight + bias, weight [in, out]."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return x @ self.weight + self.bias


class Attention(nn.Module):
    def __init__(self, d, n_head):
        super().__init__()
        self.n_head = n_head
        self.c_attn = Conv1D(d, 3 * d)
        self.c_proj = Conv1D(d, d)

    def forward(self, x):
        B, T, d = x.shape
        hs = d // self.n_head
        q, k, v = self.c_attn(x).split(d, dim=2)
        q, k, v = (z.view(B, T, self.n_head, hs).transpose(1, 2) for z in (q, k, v))
        scores = q @ k.transpose(-1, -2) / math.sqrt(hs)
        scores = scores.masked_fill(torch.ones(T, T, dtype=torch.bool).tril().logical_not(), float("-inf"))
        merged = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, T, d)  # GPT2Attention._merge_heads
        return self.c_proj(merged)


class MLP(nn.Module):
    def __init__(self, d, inner):
        super().__init__()
        self.c_fc = Conv1D(d, inner)
        self.c_proj = Conv1D(inner, d)

    def forward(self, x):
        h = self.c_fc(x)
        h = 0.5 * h * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * torch.pow(h, 3.0))))  # gelu_new
        return self.c_proj(h)


class Block(nn.Module):
    """GPT2Block.forward without dropout."""

    def __init__(self, d, n_head, inner, eps):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d, eps=eps)
        self.attn = Attention(d, n_head)
        self.ln_2 = nn.LayerNorm(d, eps=eps)
        self.mlp = MLP(d, inner)

    def forward(self, hidden_states):
        residual = hidden_states
        hidden_states = self.attn(self.ln_1(hidden_states)) + residual
        residual = hidden_states
        return residual + self.mlp(self.ln_2(hidden_states))


class GPT2(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["n_embd"]
        self.wte = nn.Embedding(cfg["vocab_size"], d)
        self.wpe = nn.Embedding(cfg["n_positions"], d)
        self.h = nn.ModuleList(
            Block(d, cfg["n_head"], cfg.get("n_inner") or 4 * d, cfg["layer_norm_epsilon"]) for _ in range(cfg["n_layer"])
        )
        self.ln_f = nn.LayerNorm(d, eps=cfg["layer_norm_epsilon"])

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for block in self.h:
            x = block(x)
        return self.ln_f(x) @ self.wte.weight.T  # tied lm_head


def main():
    model_dir, clean_ids, corrupt_ids, answer, wrong, out_dir = sys.argv[1:7]
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    model = GPT2(cfg)
    missing, unexpected = model.load_state_dict(read_safetensors(os.path.join(model_dir, "model.safetensors")), strict=False)
    if missing or unexpected:
        raise SystemExit("weights do not match: missing %s, unexpected %s" % (missing, unexpected))
    model.eval()
    clean = torch.tensor([[int(t) for t in clean_ids.replace(",", " ").split()]])
    corrupt = torch.tensor([[int(t) for t in corrupt_ids.replace(",", " ").split()]])
    answer, wrong = int(answer), int(wrong)
    L, H, T = cfg["n_layer"], cfg["n_head"], clean.shape[1]
    hs = cfg["n_embd"] // H

    def metric(logits):
        return (logits[:, -1, answer] - logits[:, -1, wrong]).mean().item()

    # The clean run's activations at every hooked module.
    cache = {}
    handles = []
    for l, block in enumerate(model.h):
        handles.append(block.register_forward_pre_hook(lambda m, args, l=l: cache.__setitem__(("resid_pre", l), args[0].clone())))
        handles.append(block.register_forward_hook(lambda m, args, out, l=l: cache.__setitem__(("resid_post", l), out.clone())))
        handles.append(block.attn.c_proj.register_forward_hook(lambda m, args, out, l=l: cache.__setitem__(("attn_out", l), out.clone())))
        handles.append(block.attn.c_proj.register_forward_pre_hook(lambda m, args, l=l: cache.__setitem__(("z", l), args[0].clone())))
        handles.append(block.mlp.c_proj.register_forward_hook(lambda m, args, out, l=l: cache.__setitem__(("mlp_out", l), out.clone())))
    with torch.no_grad():
        model(clean)
    for h in handles:
        h.remove()
    for l in range(L):
        cache[("resid_mid", l)] = cache[("resid_pre", l)] + cache[("attn_out", l)]

    def patched(hooks):
        hs_ = [register(fn) for register, fn in hooks]
        try:
            with torch.no_grad():
                return metric(model(corrupt))
        finally:
            for h in hs_:
                h.remove()

    results = {name: np.zeros((L, T)) for name in ["resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out"]}
    results["head_z"] = np.zeros((L, H))
    for l, block in enumerate(model.h):
        for p in range(T):

            def pre_input(m, args, key, p=p):
                x = args[0].clone()
                x[:, p] = cache[key][:, p]
                return (x,)

            def output(m, args, out, key, p=p):
                out = out.clone()
                out[:, p] = cache[key][:, p]
                return out

            results["resid_pre"][l, p] = patched(
                [(block.register_forward_pre_hook, lambda m, a, l=l: pre_input(m, a, ("resid_pre", l)))])
            results["resid_post"][l, p] = patched(
                [(block.register_forward_hook, lambda m, a, o, l=l: output(m, a, o, ("resid_post", l)))])
            results["attn_out"][l, p] = patched(
                [(block.attn.c_proj.register_forward_hook, lambda m, a, o, l=l: output(m, a, o, ("attn_out", l)))])
            results["mlp_out"][l, p] = patched(
                [(block.mlp.c_proj.register_forward_hook, lambda m, a, o, l=l: output(m, a, o, ("mlp_out", l)))])

            seen = {}

            def block_input(m, args):
                seen["resid_pre"] = args[0]

            def mid_through_attn_out(m, args, out, l=l, p=p):
                out = out.clone()
                out[:, p] = cache[("resid_mid", l)][:, p] - seen["resid_pre"][:, p]
                return out

            results["resid_mid"][l, p] = patched(
                [(block.register_forward_pre_hook, block_input),
                 (block.attn.c_proj.register_forward_hook, mid_through_attn_out)])
        for h in range(H):

            def merged_heads(m, args, l=l, h=h):
                x = args[0].clone()
                x[:, :, h * hs:(h + 1) * hs] = cache[("z", l)][:, :, h * hs:(h + 1) * hs]
                return (x,)

            results["head_z"][l, h] = patched([(block.attn.c_proj.register_forward_pre_hook, merged_heads)])

    os.makedirs(out_dir, exist_ok=True)
    for name, values in results.items():
        np.save(os.path.join(out_dir, name + ".npy"), values)
    with torch.no_grad():
        print(json.dumps({"clean": metric(model(clean)), "corrupted": metric(model(corrupt))}))


if __name__ == "__main__":
    main()
