"""Independent check of a Hugging Face llama folder that Loupe wrote from a llama2.c checkpoint.

1. Converts the llama2.c .bin itself, with the `permute` of Hugging Face's
   convert_llama_weights_to_hf.py, and compares every tensor of the folder's model.safetensors and
   every field of its config.json with the result (tensors must be bit-identical).
2. Runs LlamaForCausalLM's forward, re-implemented from transformers' modeling_llama (rotate_half
   RoPE, RMSNorm, repeat_kv, SwiGLU) with torch, on the folder's own files, in float32 and float64,
   and compares with the reference logits (and with Loupe's, when given).

usage: hf_llama_reference.py MODEL.bin HF_DIR REFERENCE_LOGITS.npy TOKENS [LOUPE_LOGITS.npy]
TOKENS is comma-separated. Prints key=value lines; the Java test asserts on them.
"""
import json
import struct
import sys

import numpy as np
import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", (name, info["dtype"])
        b, e = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[base + b:base + e], dtype="<f4").reshape(info["shape"]).copy())
    return out


def permute(w, n_heads, dim1, dim2):
    """convert_llama_weights_to_hf.py: interleaved RoPE pairs -> rotate-half halves."""
    return w.view(n_heads, dim1 // n_heads // 2, 2, dim2).transpose(1, 2).reshape(dim1, dim2)


def convert_llama2c(path):
    with open(path, "rb") as f:
        data = f.read()
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = struct.unpack("<7i", data[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    hs = dim // heads
    kv_dim = kv_heads * hs
    flat = np.frombuffer(data, dtype="<f4", offset=28)
    pos = 0

    def take(*shape):
        nonlocal pos
        n = int(np.prod(shape))
        a = flat[pos:pos + n].reshape(shape)
        pos += n
        return a

    emb = take(vocab, dim)
    rms_att = take(layers, dim)
    wq = take(layers, dim, dim)
    wk = take(layers, kv_dim, dim)
    wv = take(layers, kv_dim, dim)
    wo = take(layers, dim, dim)
    rms_ffn = take(layers, dim)
    w1 = take(layers, hidden, dim)
    w2 = take(layers, dim, hidden)
    w3 = take(layers, hidden, dim)
    rms_final = take(dim)
    take(seq_len, hs // 2)
    take(seq_len, hs // 2)
    wcls = None if shared else take(vocab, dim)
    assert pos == len(flat), (pos, len(flat))

    t = lambda a: torch.from_numpy(np.array(a))
    sd = {"model.embed_tokens.weight": t(emb)}
    for l in range(layers):
        p = f"model.layers.{l}."
        sd[p + "input_layernorm.weight"] = t(rms_att[l])
        sd[p + "self_attn.q_proj.weight"] = permute(t(wq[l]), heads, dim, dim)
        sd[p + "self_attn.k_proj.weight"] = permute(t(wk[l]), kv_heads, kv_dim, dim)
        sd[p + "self_attn.v_proj.weight"] = t(wv[l])
        sd[p + "self_attn.o_proj.weight"] = t(wo[l])
        sd[p + "post_attention_layernorm.weight"] = t(rms_ffn[l])
        sd[p + "mlp.gate_proj.weight"] = t(w1[l])
        sd[p + "mlp.down_proj.weight"] = t(w2[l])
        sd[p + "mlp.up_proj.weight"] = t(w3[l])
    sd["model.norm.weight"] = t(rms_final)
    if not shared:
        sd["lm_head.weight"] = t(wcls)
    cfg = {"model_type": "llama", "hidden_size": dim, "intermediate_size": hidden, "num_hidden_layers": layers,
           "num_attention_heads": heads, "num_key_value_heads": kv_heads, "vocab_size": vocab,
           "max_position_embeddings": seq_len, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
           "tie_word_embeddings": shared, "architectures": ["LlamaForCausalLM"], "torch_dtype": "float32"}
    return sd, cfg


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def hf_forward(sd, cfg, tokens, dtype):
    w = {k: v.to(dtype) for k, v in sd.items()}
    d = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    kv_heads = cfg.get("num_key_value_heads", heads)
    hd = cfg.get("head_dim", d // heads)
    eps = cfg["rms_norm_eps"]
    n = len(tokens)

    inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    freqs = torch.outer(torch.arange(n, dtype=torch.float64), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().to(dtype), emb.sin().to(dtype)

    def rms(x, weight):
        var = x.pow(2).mean(-1, keepdim=True)
        return weight * (x * torch.rsqrt(var + eps))

    def linear(x, name):
        return torch.nn.functional.linear(x, w[name + ".weight"], w.get(name + ".bias"))

    mask = torch.full((n, n), float("-inf"), dtype=dtype).triu(1)
    x = w["model.embed_tokens.weight"][torch.tensor(tokens)]
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms(x, w[p + "input_layernorm.weight"])
        q = linear(h, p + "self_attn.q_proj").view(n, heads, hd).transpose(0, 1)
        k = linear(h, p + "self_attn.k_proj").view(n, kv_heads, hd).transpose(0, 1)
        v = linear(h, p + "self_attn.v_proj").view(n, kv_heads, hd).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(heads // kv_heads, dim=0)      # repeat_kv
        v = v.repeat_interleave(heads // kv_heads, dim=0)
        att = torch.softmax(q @ k.transpose(-1, -2) / hd ** 0.5 + mask, dim=-1) @ v
        x = x + linear(att.transpose(0, 1).reshape(n, heads * hd), p + "self_attn.o_proj")
        h = rms(x, w[p + "post_attention_layernorm.weight"])
        x = x + linear(torch.nn.functional.silu(linear(h, p + "mlp.gate_proj")) * linear(h, p + "mlp.up_proj"),
                       p + "mlp.down_proj")
    x = rms(x, w["model.norm.weight"])
    tied = cfg.get("tie_word_embeddings", False)
    head = w["model.embed_tokens.weight"] if tied else w["lm_head.weight"]
    return x @ head.T


def main():
    bin_path, hf_dir, ref_path, tokens = sys.argv[1:5]
    tokens = [int(t) for t in tokens.split(",")]
    expected_sd, expected_cfg = convert_llama2c(bin_path)
    folder_sd = read_safetensors(hf_dir + "/model.safetensors")
    with open(hf_dir + "/config.json") as f:
        folder_cfg = json.load(f)

    mismatched = [k for k in expected_sd if k not in folder_sd or folder_sd[k].shape != expected_sd[k].shape
                  or not torch.equal(folder_sd[k], expected_sd[k])]
    extra = [k for k in folder_sd if k not in expected_sd]
    print("tensors_checked=%d" % len(expected_sd))
    print("tensors_mismatched=%s" % ",".join(mismatched + extra))
    bad_cfg = [k for k, v in expected_cfg.items() if folder_cfg.get(k) != v]
    print("config_mismatched=%s" % ",".join(bad_cfg))

    reference = torch.from_numpy(np.load(ref_path)).double()
    f64 = hf_forward(folder_sd, folder_cfg, tokens, torch.float64)
    f32 = hf_forward(folder_sd, folder_cfg, tokens, torch.float32).double()
    print("hf_forward_f32_vs_reference=%.6g" % (f32 - reference).abs().max().item())
    print("hf_forward_f64_vs_reference=%.6g" % (f64 - reference).abs().max().item())
    if len(sys.argv) > 5:
        loupe = torch.from_numpy(np.load(sys.argv[5])).double()
        print("loupe_vs_hf_forward_f64=%.6g" % (loupe - f64).abs().max().item())


if __name__ == "__main__":
    main()
