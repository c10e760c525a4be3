package dev.loupe.saes.train;

import java.util.Map;

/**
 * What a training step computed (its gradients are in the SAE's {@link ParamSet}).
 *
 * @param loss              the total loss
 * @param losses            its parts by SAELens's names: {@code mse_loss}, {@code l1_loss}, {@code l0_loss},
 *                          {@code auxiliary_reconstruction_loss}
 * @param fired             per latent, the rows of the batch on which it was nonzero
 * @param l0                mean number of nonzero latents per row
 * @param explainedVariance {@code 1 - E||x - x̂||² / E||x - mean(x)||²} over the batch (SAELens's {@code explained_variance})
 */
public record StepOutput(double loss, Map<String, Double> losses, float[] fired, double l0, double explainedVariance) {}
