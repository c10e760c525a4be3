"""PyTorch peer for `./loupe bench forward --vs-torch`.

Runs the same Transformer shape as Loupe (GPT-2 style: LayerNorm, learned positions, GELU tanh,
biases, untied unembed) with random weights, on the same batch and sequence length, and prints one
JSON line with its throughput. Written from nanoGPT's model.py / TransformerLens's components, in
plain PyTorch so that Debian's python3-torch is all it needs.
"""
import argparse, json, math, time
import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True, help="JSON with d_model, n_layers, n_heads, d_head, d_mlp, d_vocab, n_ctx, eps")
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--seq", type=int, required=True)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", choices=["none", "all"], default="none")
    a = p.parse_args()
    c = json.loads(a.config)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    D, L, H, dh, M, V, N = c["d_model"], c["n_layers"], c["n_heads"], c["d_head"], c["d_mlp"], c["d_vocab"], c["n_ctx"]
    eps = c.get("eps", 1e-5)
    r = lambda *s: torch.randn(*s) * 0.02
    W = dict(E=r(V, D), pos=r(N, D), U=r(D, V), bU=torch.zeros(V))
    blocks = [dict(ln1w=torch.ones(D), ln1b=torch.zeros(D), WQ=r(D, H * dh), bQ=torch.zeros(H * dh),
                   WK=r(D, H * dh), bK=torch.zeros(H * dh), WV=r(D, H * dh), bV=torch.zeros(H * dh),
                   WO=r(H * dh, D), bO=torch.zeros(D), ln2w=torch.ones(D), ln2b=torch.zeros(D),
                   Win=r(D, M), bin=torch.zeros(M), Wout=r(M, D), bout=torch.zeros(D)) for _ in range(L)]
    lnfw, lnfb = torch.ones(D), torch.zeros(D)
    tokens = torch.randint(0, V, (a.batch, a.seq))
    B, T = tokens.shape
    causal = torch.full((T, T), float("-inf")).triu(1)

    def ln(x, w, b, cache, name):
        # As TransformerLens's components/layer_norm.py: hook_normalized is x / scale, before * w + b.
        x = x - x.mean(-1, keepdim=True)
        scale = (x.pow(2).mean(-1, keepdim=True) + eps).sqrt()
        normalized = x / scale
        if cache is not None:
            cache[name + ".hook_scale"] = scale
            cache[name + ".hook_normalized"] = normalized
        return normalized * w + b

    def forward(cache):
        keep = (lambda n, t: cache.__setitem__(n, t)) if cache is not None else (lambda n, t: None)
        resid = W["E"][tokens] + W["pos"][:T]
        for l, p in enumerate(blocks):
            b = f"blocks.{l}."
            keep(b + "hook_resid_pre", resid)
            x = ln(resid, p["ln1w"], p["ln1b"], cache, b + "ln1")
            q = (x @ p["WQ"] + p["bQ"]).view(B, T, H, dh)
            k = (x @ p["WK"] + p["bK"]).view(B, T, H, dh)
            v = (x @ p["WV"] + p["bV"]).view(B, T, H, dh)
            keep(b + "attn.hook_q", q); keep(b + "attn.hook_k", k); keep(b + "attn.hook_v", v)
            scores = q.transpose(1, 2) @ k.permute(0, 2, 3, 1) / math.sqrt(dh) + causal
            pattern = scores.softmax(-1)
            keep(b + "attn.hook_attn_scores", scores); keep(b + "attn.hook_pattern", pattern)
            z = (pattern @ v.transpose(1, 2)).transpose(1, 2)
            keep(b + "attn.hook_z", z)
            attn_out = z.reshape(B, T, H * dh) @ p["WO"] + p["bO"]
            keep(b + "hook_attn_out", attn_out)
            resid = resid + attn_out
            keep(b + "hook_resid_mid", resid)
            x = ln(resid, p["ln2w"], p["ln2b"], cache, b + "ln2")
            pre = x @ p["Win"] + p["bin"]
            post = torch.nn.functional.gelu(pre, approximate="tanh")
            keep(b + "mlp.hook_pre", pre); keep(b + "mlp.hook_post", post)
            mlp_out = post @ p["Wout"] + p["bout"]
            keep(b + "hook_mlp_out", mlp_out)
            resid = resid + mlp_out
            keep(b + "hook_resid_post", resid)
        return ln(resid, lnfw, lnfb, cache, "ln_final") @ W["U"] + W["bU"]

    with torch.inference_mode():
        for _ in range(a.warmup):
            forward({} if a.cache == "all" else None)
        times = []
        for _ in range(a.iters):
            t0 = time.perf_counter()
            forward({} if a.cache == "all" else None)
            times.append(time.perf_counter() - t0)
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({"tokens_per_s": B * T / median, "seconds_per_forward": median, "threads": torch.get_num_threads(),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
