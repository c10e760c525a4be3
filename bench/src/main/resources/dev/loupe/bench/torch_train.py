"""PyTorch peer for `./loupe bench train --vs-torch`.

One training step as Loupe's Trainer takes it: forward (pre-LayerNorm Transformer with learned
positions, attention-only or with an MLP), next-token cross-entropy over every position, backward,
torch.nn.utils.clip_grad_norm_, torch.optim.AdamW with weight decay on matrices only. Same shape,
batch and hyper-parameters; one fixed random batch, as the Loupe side. Prints one JSON line.

With "arch": "nanogpt" in the config the model is nanoGPT's model.py (Karpathy, MIT): nn.Linear
modules, one fused c_attn for q, k and v, F.scaled_dot_product_attention(is_causal=True) (flash
attention where torch has it; on torch 1.x, which lacks it, nanoGPT's own fallback: the scores,
masked with a lower-triangular buffer, softmax, times v), nn.LayerNorm, GELU, its configure_optimizers (decay for every
parameter of 2 or more dimensions); with Loupe's choices where they differ: GELU in tanh form, a
bias on the unembedding, embeddings not tied (each set from the config).
"""
import argparse, json, math, time
import torch
import torch.nn as nn
import torch.nn.functional as F


FLASH = hasattr(F, "scaled_dot_product_attention")  # torch >= 2.0, as nanoGPT tests it


class CausalSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        D = c["d_model"]
        self.n_head, self.d_head = c["n_heads"], c["d_head"]
        self.c_attn = nn.Linear(D, 3 * self.n_head * self.d_head, bias=True)
        self.c_proj = nn.Linear(self.n_head * self.d_head, D, bias=True)
        if not FLASH:
            T = c["n_ctx"]
            self.register_buffer("bias", torch.tril(torch.ones(T, T)).view(1, 1, T, T))

    def forward(self, x):
        B, T, _ = x.size()
        q, k, v = self.c_attn(x).split(self.n_head * self.d_head, dim=2)
        q = q.view(B, T, self.n_head, self.d_head).transpose(1, 2)
        k = k.view(B, T, self.n_head, self.d_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, self.d_head).transpose(1, 2)
        if FLASH:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
            y = F.softmax(att, dim=-1) @ v
        y = y.transpose(1, 2).contiguous().view(B, T, self.n_head * self.d_head)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc = nn.Linear(c["d_model"], c["d_mlp"], bias=True)
        self.gelu = nn.GELU(approximate="tanh" if c["activation"] == "GELU_NEW" else "none")
        self.c_proj = nn.Linear(c["d_mlp"], c["d_model"], bias=True)

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c["d_model"], eps=c["eps"])
        self.attn = CausalSelfAttention(c)
        self.ln_2 = nn.LayerNorm(c["d_model"], eps=c["eps"])
        self.mlp = MLP(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        D, V = c["d_model"], c["d_vocab"]
        self.wte = nn.Embedding(V, D)
        self.wpe = nn.Embedding(c["n_ctx"], D)
        self.h = nn.ModuleList([Block(c) for _ in range(c["n_layers"])])
        self.ln_f = nn.LayerNorm(D, eps=c["eps"])
        self.lm_head = nn.Linear(D, V, bias=c["unembed_bias"])
        if c["tied_embeddings"]:
            self.wte.weight = self.lm_head.weight
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                torch.nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                torch.nn.init.zeros_(m.bias)

    def forward(self, idx, targets):
        B, T = idx.size()
        pos = torch.arange(0, T, dtype=torch.long)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1)

    def configure_optimizers(self, weight_decay, learning_rate, betas, eps):
        params = [p for p in self.parameters() if p.requires_grad]
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        groups = [dict(params=decay, weight_decay=weight_decay), dict(params=no_decay, weight_decay=0.0)]
        return torch.optim.AdamW(groups, lr=learning_rate, betas=betas, eps=eps)


def nanogpt_step(c, tokens):
    model = GPT(c)
    opt = model.configure_optimizers(c["weight_decay"], c["lr"], (c["beta1"], c["beta2"]), c["adam_eps"])
    # Loupe's batch is the whole sequence with no target at the last position: the same as
    # nanoGPT's (x, y) with y = -1 (ignored) at the end.
    x = tokens
    y = torch.cat([tokens[:, 1:], torch.full((tokens.size(0), 1), -1, dtype=torch.long)], dim=1)

    def step():
        loss = model(x, y)
        loss.backward()
        if c["grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), c["grad_clip"])
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    return step


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
    if c.get("arch") == "nanogpt":
        timed(nanogpt_step(c, tokens), a)
        return
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

    timed(step, a)


def timed(step, a):
    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    seconds = time.perf_counter() - t0
    print(json.dumps(dict(torch=torch.__version__, flash=FLASH, threads=torch.get_num_threads(), steps_per_s=a.steps / seconds, loss=loss)))


if __name__ == "__main__":
    main()
