"""PyTorch peer for `./loupe bench train --vs-torch`.

One training step as Loupe's Trainer takes it: forward (pre-LayerNorm Transformer with learned
positions, attention-only or with an MLP), next-token cross-entropy over every position, backward,
torch.nn.utils.clip_grad_norm_, torch.optim.AdamW with weight decay on matrices only. Same shape,
batch and hyper-parameters; one fixed random batch, as the Loupe side. Prints one JSON line.
"""
import argparse, json, math, time
import torch
import torch.nn.functional as F


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--seq", type=int, required=True)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    c = json.loads(a.config)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    D, L, H, dh, M, V, N = c["d_model"], c["n_layers"], c["n_heads"], c["d_head"], c["d_mlp"], c["d_vocab"], c["n_ctx"]
    eps, attn_only = c["eps"], c["attn_only"]
    use_ln = c["normalization"] == "LAYER_NORM"
    act = {"RELU": F.relu, "GELU_NEW": lambda x: F.gelu(x, approximate="tanh"), "GELU": F.gelu}[c["activation"]]
    P = lambda *s: torch.nn.Parameter(torch.randn(*s) * 0.02)
    ones = lambda n: torch.nn.Parameter(torch.ones(n))
    zeros = lambda n: torch.nn.Parameter(torch.zeros(n))
    W = dict(E=P(V, D), pos=P(N, D), U=P(D, V), bU=zeros(V), lnfw=ones(D), lnfb=zeros(D))
    blocks = []
    for _ in range(L):
        b = dict(ln1w=ones(D), ln1b=zeros(D), WQ=P(D, H * dh), bQ=zeros(H * dh), WK=P(D, H * dh), bK=zeros(H * dh),
                 WV=P(D, H * dh), bV=zeros(H * dh), WO=P(H * dh, D), bO=zeros(D))
        if not attn_only:
            b.update(ln2w=ones(D), ln2b=zeros(D), Win=P(D, M), bin=zeros(M), Wout=P(M, D), bout=zeros(D))
        blocks.append(b)
    params = list(W.values()) + [t for b in blocks for t in b.values()]
    tokens = torch.randint(0, V, (a.batch, a.seq))
    B, T = tokens.shape
    causal = torch.full((T, T), float("-inf")).triu(1)

    def ln(x, w, b):
        if not use_ln:
            return x
        x = x - x.mean(-1, keepdim=True)
        return x / (x.pow(2).mean(-1, keepdim=True) + eps).sqrt() * w + b

    def forward():
        resid = W["E"][tokens] + W["pos"][:T]
        for p in blocks:
            x = ln(resid, p["ln1w"], p["ln1b"])
            q = (x @ p["WQ"] + p["bQ"]).view(B, T, H, dh).transpose(1, 2)
            k = (x @ p["WK"] + p["bK"]).view(B, T, H, dh).transpose(1, 2)
            v = (x @ p["WV"] + p["bV"]).view(B, T, H, dh).transpose(1, 2)
            pattern = (q @ k.transpose(-1, -2) / math.sqrt(dh) + causal).softmax(-1)
            z = (pattern @ v).transpose(1, 2).reshape(B, T, H * dh)
            resid = resid + z @ p["WO"] + p["bO"]
            if not attn_only:
                x = ln(resid, p["ln2w"], p["ln2b"])
                resid = resid + act(x @ p["Win"] + p["bin"]) @ p["Wout"] + p["bout"]
        return ln(resid, W["lnfw"], W["lnfb"]) @ W["U"] + W["bU"]

    decay = [t for t in params if t.dim() >= 2]
    no_decay = [t for t in params if t.dim() < 2]
    opt = torch.optim.AdamW([dict(params=decay, weight_decay=c["weight_decay"]), dict(params=no_decay, weight_decay=0.0)],
                            lr=c["lr"], betas=(c["beta1"], c["beta2"]), eps=c["adam_eps"])

    def step():
        logits = forward()
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), tokens[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if c["grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_(params, c["grad_clip"])
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    seconds = time.perf_counter() - t0
    print(json.dumps(dict(torch=torch.__version__, threads=torch.get_num_threads(), steps_per_s=a.steps / seconds, loss=loss)))


if __name__ == "__main__":
    main()
