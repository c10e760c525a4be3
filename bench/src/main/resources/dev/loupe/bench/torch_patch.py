"""PyTorch peer for `./loupe bench patch --vs-torch`.

The activation-patching sweep written as TransformerLens's generic_activation_patch runs it: one
clean forward pass caching the patched activation, then one hooked forward pass of the corrupted
prompt per patch (layer x position, or layer x head for head_z), each scored with the logit
difference at the last position. The model is GPT-2 style (LayerNorm, learned positions, GELU tanh,
biases, untied unembed) with random weights, in plain PyTorch (no transformer_lens needed), under
torch.inference_mode() (TransformerLens runs with autograd on by default, which is slower: this
peer is the faster form of the same sweep). Prints one JSON line.
"""
import argparse, json, math, time
import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True, help="JSON with d_model, n_layers, n_heads, d_head, d_mlp, d_vocab, n_ctx, eps")
    p.add_argument("--seq", type=int, required=True)
    p.add_argument("--target", required=True, choices=["resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out", "head_z"])
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sample", type=int, default=0, help="time only this many patches, evenly spread, and scale to all")
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
    T = a.seq
    clean = torch.randint(0, V, (1, T))
    corrupt = clean.clone()
    corrupt[0, T // 2] = (corrupt[0, T // 2] + 1) % V
    answer, wrong = 1, 2
    causal = torch.full((T, T), float("-inf")).triu(1)

    def ln(x, w, b):
        x = x - x.mean(-1, keepdim=True)
        return x / (x.pow(2).mean(-1, keepdim=True) + eps).sqrt() * w + b

    def forward(tokens, hooks):
        """hooks: {(name, layer): fn(activation) -> activation}, as run_with_hooks' fwd_hooks."""
        def hook(name, l, x):
            fn = hooks.get((name, l))
            return fn(x) if fn is not None else x

        B = tokens.shape[0]
        resid = W["E"][tokens] + W["pos"][:T]
        for l, p in enumerate(blocks):
            resid = hook("resid_pre", l, resid)
            x = ln(resid, p["ln1w"], p["ln1b"])
            q = (x @ p["WQ"] + p["bQ"]).view(B, T, H, dh)
            k = (x @ p["WK"] + p["bK"]).view(B, T, H, dh)
            v = (x @ p["WV"] + p["bV"]).view(B, T, H, dh)
            scores = q.transpose(1, 2) @ k.permute(0, 2, 3, 1) / math.sqrt(dh) + causal
            z = hook("z", l, (scores.softmax(-1) @ v.transpose(1, 2)).transpose(1, 2))
            attn_out = hook("attn_out", l, z.reshape(B, T, H * dh) @ p["WO"] + p["bO"])
            resid = hook("resid_mid", l, resid + attn_out)
            x = ln(resid, p["ln2w"], p["ln2b"])
            post = torch.nn.functional.gelu(x @ p["Win"] + p["bin"], approximate="tanh")
            mlp_out = hook("mlp_out", l, post @ p["Wout"] + p["bout"])
            resid = hook("resid_post", l, resid + mlp_out)
        return ln(resid, lnfw, lnfb) @ W["U"] + W["bU"]

    def metric(logits):
        return (logits[:, -1, answer] - logits[:, -1, wrong]).mean().item()

    name = "z" if a.target == "head_z" else a.target
    indices = [(l, i) for l in range(L) for i in range(H if a.target == "head_z" else T)]
    timed = indices if a.sample <= 0 or a.sample >= len(indices) else \
        [indices[round(j * (len(indices) - 1) / (a.sample - 1))] for j in range(a.sample)]

    def setter(index, clean_act):
        l, i = index

        def fn(act):  # TransformerLens's layer_pos / layer_head_vector patch setters, in place
            if name == "z":
                act[:, :, i] = clean_act[:, :, i]
            else:
                act[:, i] = clean_act[:, i]
            return act
        return fn

    results = []
    with torch.inference_mode():
        forward(corrupt, {})  # warm-up
        t0 = time.perf_counter()
        cache = {}
        for l in range(L):
            cache[l] = None
        hooks = {(name, l): (lambda x, l=l: cache.__setitem__(l, x.clone()) or x) for l in range(L)}
        forward(clean, hooks)  # the clean run, caching the patched activation of every layer
        t_cache = time.perf_counter() - t0
        t1 = time.perf_counter()
        for index in timed:
            results.append(metric(forward(corrupt, {(name, index[0]): setter(index, cache[index[0]])})))
        t_sweep = time.perf_counter() - t1
    per_run = t_sweep / len(timed)
    print(json.dumps({"seconds": t_cache + per_run * len(indices), "runs": len(indices), "timed_runs": len(timed),
                      "seconds_per_run": per_run, "threads": torch.get_num_threads(), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
