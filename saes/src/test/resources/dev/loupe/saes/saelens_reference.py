"""A PyTorch re-implementation of SAELens 6's SAE inference (sae_lens/saes/*.py, loading/pretrained_sae_loaders.py),
written from its code, to check Loupe against. Needs only torch and numpy (Debian's python3-torch).

  make JOBS.json   each job [DIR, ARCH, D_IN, D_SAE, SEED, {cfg overrides}]: an SAELens folder with random weights
  run JOBS.json    each job [DIR, X.npy, F.npy, R.npy]: loads DIR strictly (keys, shapes), writes the features
                   and reconstructions of X (float32); prints each folder's architecture
(one process for many jobs: importing torch takes seconds)
"""
import json
import sys

import numpy as np
import torch

NP = {"F32": np.float32, "F64": np.float64, "F16": np.float16}
ST = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16"}


def load_safetensors(path):
    raw = open(path, "rb").read()
    n = int.from_bytes(raw[:8], "little")
    head = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, info in head.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        if info["dtype"] == "BF16":
            bits = np.frombuffer(data[b:e], dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        else:
            arr = np.frombuffer(data[b:e], dtype=NP[info["dtype"]])
        out[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return out


def save_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        b = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": ST[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for b in blobs:
            f.write(b)


def handle_config_defaulting(cfg):
    """sae_lens.loading.pretrained_sae_loaders.handle_config_defaulting (the parts that matter here)."""
    version = cfg.get("sae_lens_version") or cfg.get("metadata", {}).get("sae_lens_version")
    if version and int(version.split(".")[0]) >= 6:
        return cfg
    rename = {"hook_point": "hook_name", "hook_point_head_index": "hook_head_index", "activation_fn_str": "activation_fn"}
    new = {rename.get(k, k): v for k, v in cfg.items()}
    new.setdefault("apply_b_dec_to_input", True)
    new.setdefault("architecture", "standard")
    if new.get("activation_fn") == "topk" and new.get("activation_fn_kwargs", {}).get("k") is not None:
        new["architecture"] = "topk"
        new["k"] = new["activation_fn_kwargs"]["k"]
    if isinstance(new.get("normalize_activations"), bool):
        new["normalize_activations"] = "expected_average_only_in" if new["normalize_activations"] else "none"
    if new.get("normalize_activations") is None:
        new["normalize_activations"] = "none"
    return new


EXPECTED = {
    "standard": ["W_enc", "b_enc", "W_dec", "b_dec"],
    "topk": ["W_enc", "b_enc", "W_dec", "b_dec"],
    "jumprelu": ["W_enc", "b_enc", "W_dec", "b_dec", "threshold"],
    "gated": ["W_enc", "b_gate", "b_mag", "r_mag", "W_dec", "b_dec"],
}


class ReferenceSAE:
    """sae_lens.saes.sae.SAE.process_sae_in / encode / decode of each architecture."""

    def __init__(self, folder):
        self.cfg = handle_config_defaulting(json.load(open(f"{folder}/cfg.json")))
        sd = load_safetensors(f"{folder}/sae_weights.safetensors")
        arch = self.cfg["architecture"]
        if sorted(sd) != sorted(EXPECTED[arch]):  # load_state_dict(strict=True)
            raise SystemExit(f"state dict keys {sorted(sd)} != {sorted(EXPECTED[arch])}")
        d_in, d_sae = self.cfg["d_in"], self.cfg["d_sae"]
        shapes = {"W_enc": [d_in, d_sae], "W_dec": [d_sae, d_in], "b_dec": [d_in]}
        for k, t in sd.items():
            if list(t.shape) != shapes.get(k, [d_sae]):
                raise SystemExit(f"{k} has shape {list(t.shape)}")
        self.sd = {k: v.float() for k, v in sd.items()}

    def process_sae_in(self, x):
        x = x.float()
        norm = self.cfg.get("normalize_activations", "none")
        if norm == "constant_norm_rescale":
            self.x_norm_coeff = (self.cfg["d_in"] ** 0.5) / x.norm(dim=-1, keepdim=True)
            x = x * self.x_norm_coeff
        elif norm == "layer_norm":
            mu = x.mean(dim=-1, keepdim=True)
            x = x - mu
            std = x.std(dim=-1, keepdim=True)
            x = x / (std + 1e-5)
            self.ln_mu, self.ln_std = mu, std
        return x - self.sd["b_dec"] * self.cfg.get("apply_b_dec_to_input", True)

    def encode(self, x):
        sd, arch = self.sd, self.cfg["architecture"]
        sae_in = self.process_sae_in(x)
        if arch == "gated":
            active = ((sae_in @ sd["W_enc"] + sd["b_gate"]) > 0).float()
            mag = torch.relu(sae_in @ (sd["W_enc"] * sd["r_mag"].exp()) + sd["b_mag"])
            return active * mag
        hidden_pre = sae_in @ sd["W_enc"] + sd["b_enc"]
        if arch == "standard":
            return torch.relu(hidden_pre)
        if arch == "jumprelu":
            return torch.relu(hidden_pre) * (hidden_pre > sd["threshold"]).float()
        if arch == "topk":
            if self.cfg.get("rescale_acts_by_decoder_norm", False):
                hidden_pre = hidden_pre * sd["W_dec"].norm(dim=-1)
            values, indices = torch.topk(hidden_pre, k=self.cfg["k"], dim=-1, sorted=False)
            return torch.zeros_like(hidden_pre).scatter_(-1, indices, values.relu())
        raise SystemExit(f"unknown architecture {arch}")

    def decode(self, acts):
        sd = self.sd
        if self.cfg["architecture"] == "topk" and self.cfg.get("rescale_acts_by_decoder_norm", False):
            acts = acts / sd["W_dec"].norm(dim=-1)
        out = acts @ sd["W_dec"] + sd["b_dec"]
        norm = self.cfg.get("normalize_activations", "none")
        if norm == "constant_norm_rescale":
            out = out / self.x_norm_coeff
        elif norm == "layer_norm":
            out = out * self.ln_std + self.ln_mu
        return out


def make(folder, arch, d_in, d_sae, seed, overrides):
    import os
    os.makedirs(folder, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for name in EXPECTED[arch]:
        shape = {"W_enc": (d_in, d_sae), "W_dec": (d_sae, d_in), "b_dec": (d_in,)}.get(name, (d_sae,))
        sd[name] = torch.randn(shape, generator=g) * (0.15 if name.startswith("W") else 0.1)
    if arch == "jumprelu":
        sd["threshold"] = torch.rand(d_sae, generator=g) * 0.3
    if arch == "gated":
        sd["r_mag"] = torch.randn(d_sae, generator=g) * 0.2
    save_safetensors(f"{folder}/sae_weights.safetensors", sd)
    cfg = {"d_in": d_in, "d_sae": d_sae, "dtype": "float32", "device": "cpu", "apply_b_dec_to_input": True,
           "normalize_activations": "none", "reshape_activations": "none",
           "metadata": {"sae_lens_version": "6.18.0", "hook_name": "blocks.0.hook_resid_post"}, "architecture": arch}
    for k, v in overrides.items():  # None deletes a key (to make configs of older SAELens versions)
        if v is None:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    json.dump(cfg, open(f"{folder}/cfg.json", "w"))


def main():
    cmd, jobs = sys.argv[1], json.load(open(sys.argv[2]))
    for job in jobs:
        if cmd == "make":
            make(*job)
        elif cmd == "run":
            folder, x, f_out, r_out = job
            sae = ReferenceSAE(folder)
            with torch.no_grad():
                f = sae.encode(torch.from_numpy(np.load(x)))
                r = sae.decode(f)
            np.save(f_out, f.numpy().astype(np.float32))
            np.save(r_out, r.numpy().astype(np.float32))
            print(json.dumps({"folder": folder, "architecture": sae.cfg["architecture"]}))


if __name__ == "__main__":
    main()
