"""PyTorch peer for `./loupe bench sae --vs-torch`.

One TopK SAE training step as SAELens 6 takes it, in plain torch (sae_lens/saes/topk_sae.py
TopKTrainingSAE with rescale_acts_by_decoder_norm=True, its decoder_init_norm initialisation, and
sae_lens/training/sae_trainer.py SAETrainer._train_step): encode, hidden_pre scaled by the decoder
norms, torch.topk then ReLU scattered into a dense [batch, d_sae] tensor (use_sparse_activations=False,
SAELens's default), decode with the activations divided by the norms, MSE summed over d_in and
averaged over the batch, the AuxK loss's dead-latent check, the trainer's firing statistics,
backward, clip_grad_norm_(1.0), Adam, zero_grad. One fixed random batch, as the Loupe side.
Prints one JSON line.
"""
import argparse, json, time
import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--d-in", type=int, required=True)
    p.add_argument("--d-sae", type=int, required=True)
    p.add_argument("--k", type=int, required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--lr", type=float, default=3e-4)
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    d_in, d_sae, k = a.d_in, a.d_sae, a.k

    # TrainingSAE.initialize_weights: kaiming-uniform W_dec, rows scaled to decoder_init_norm 0.1, W_enc = W_dec^T
    w_dec = torch.nn.init.kaiming_uniform_(torch.empty(d_sae, d_in))
    w_dec = w_dec / w_dec.norm(dim=-1, keepdim=True) * 0.1
    W_dec = torch.nn.Parameter(w_dec)
    W_enc = torch.nn.Parameter(w_dec.T.clone().contiguous())
    b_enc = torch.nn.Parameter(torch.zeros(d_sae))
    b_dec = torch.nn.Parameter(torch.zeros(d_in))
    params = [W_enc, b_enc, W_dec, b_dec]
    optimizer = torch.optim.Adam(params, lr=a.lr, betas=(0.9, 0.999))
    x = torch.randn(a.batch, d_in)
    act_freq_scores = torch.zeros(d_sae)
    n_forward_passes_since_fired = torch.zeros(d_sae)
    dead_feature_window = 1000

    def step():
        nonlocal act_freq_scores
        dead_neuron_mask = (n_forward_passes_since_fired > dead_feature_window).bool()
        # encode_with_hidden_pre
        sae_in = x - b_dec
        hidden_pre = sae_in @ W_enc + b_enc
        hidden_pre = hidden_pre * W_dec.norm(dim=-1)
        topk_values, topk_indices = torch.topk(hidden_pre, k=k, dim=-1, sorted=False)
        feature_acts = torch.zeros_like(hidden_pre).scatter_(-1, topk_indices, topk_values.relu())
        # decode
        sae_out = (feature_acts * (1 / W_dec.norm(dim=-1))) @ W_dec + b_dec
        mse_loss = torch.nn.functional.mse_loss(sae_out, x, reduction="none").sum(dim=-1).mean()
        # calculate_topk_aux_loss: nothing to add while no latent is dead (SAELens checks with a sync)
        if int(dead_neuron_mask.sum()) != 0:
            raise SystemExit("the benchmark measures steps without dead latents")
        loss = mse_loss + sae_out.new_tensor(0.0)
        with torch.no_grad():
            firing_feats = feature_acts.bool().float()
            did_fire = firing_feats.sum(-2).bool()
            n_forward_passes_since_fired.add_(1)
            n_forward_passes_since_fired[did_fire] = 0
            act_freq_scores += firing_feats.sum(0)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad()
        return loss.item()

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "step_seconds": times,
                      "steps_per_s": len(times) / sum(times)}))


if __name__ == "__main__":
    main()
