package dev.loupe.saes.train;

import dev.loupe.engine.LoupeException;
import dev.loupe.saes.Architecture;
import dev.loupe.saes.Normalization;
import java.util.function.Consumer;

/**
 * One SAE to train: its hook, architecture and the architecture's training settings, with SAELens's
 * names and defaults ({@code TopKTrainingSAEConfig}, {@code JumpReLUTrainingSAEConfig}, ...). Several
 * specs train together from one pass over the activations ({@link SaeTrainer}).
 *
 * @param name                     the SAE's folder under the output folder ({@code <arch>-<d_sae>[-k<k>]} by default)
 * @param hook                     the hook point whose activations it reconstructs
 * @param architecture             standard, topk, batchtopk, jumprelu or gated
 * @param dSae                     number of latents
 * @param k                        latents per row (topk), or on average per row (batchtopk)
 * @param l1Coefficient            standard and gated: weight of the L1 penalty (SAELens {@code l1_coefficient})
 * @param l1WarmUpSteps            steps over which the L1 coefficient rises linearly from 0
 * @param l0Coefficient            jumprelu: weight of the L0 penalty
 * @param l0WarmUpSteps            steps over which the L0 coefficient rises linearly from 0
 * @param jumpreluBandwidth        jumprelu: the straight-through estimator's bandwidth
 * @param jumpreluInitThreshold    jumprelu: every latent's initial threshold
 * @param auxLossCoefficient       topk and batchtopk: weight of the AuxK loss on dead latents
 * @param rescaleActsByDecoderNorm topk and batchtopk: select on {@code pre · ||W_dec[f]||} (SAELens's default: true)
 * @param topkThresholdLr          batchtopk: the rate of the running threshold used at inference
 * @param normalizeActivations     none, or expected_average_only_in (inputs scaled by sqrt(d_in) / E||x||, folded in at the end)
 * @param applyBDecToInput         subtract b_dec from the input before encoding
 * @param decoderInitNorm          the norm of every initial decoder row (SAELens's 0.1); 0 keeps kaiming-uniform rows
 * @param bDecInit                 how b_dec starts: zeros, the mean or the geometric median of a sample of activations
 */
public record SaeSpec(
        String name,
        String hook,
        Architecture architecture,
        int dSae,
        int k,
        double l1Coefficient,
        int l1WarmUpSteps,
        double l0Coefficient,
        int l0WarmUpSteps,
        double jumpreluBandwidth,
        double jumpreluInitThreshold,
        double auxLossCoefficient,
        boolean rescaleActsByDecoderNorm,
        double topkThresholdLr,
        Normalization normalizeActivations,
        boolean applyBDecToInput,
        double decoderInitNorm,
        BDecInit bDecInit) {

    /** How {@code b_dec} is initialised (SAELens's {@code b_dec_init_method}). */
    public enum BDecInit {
        ZEROS,
        MEAN,
        GEOMETRIC_MEDIAN
    }

    public SaeSpec {
        String what = "SAE '" + name + "'";
        if (hook == null || hook.isBlank()) throw new LoupeException(what + ": a hook is required");
        if (architecture == null) throw new LoupeException(what + ": an architecture is required");
        if (dSae < 1) throw new LoupeException(what + ": d_sae must be >= 1, got " + dSae);
        boolean usesK = architecture == Architecture.TOPK || architecture == Architecture.BATCHTOPK;
        if (usesK && k < 1) throw new LoupeException(what + ": --k must be >= 1 for " + architecture.saeLensName());
        if (usesK && k > dSae)
            throw new LoupeException(what + ": --k " + k + " is larger than --d-sae " + dSae + " (a "
                    + architecture.saeLensName() + " SAE keeps k of its d_sae latents per row)");
        if (!usesK) k = 0;
        nonNegative(what, "l1_coefficient", l1Coefficient);
        nonNegative(what, "l0_coefficient", l0Coefficient);
        nonNegative(what, "aux_loss_coefficient", auxLossCoefficient);
        nonNegative(what, "decoder_init_norm", decoderInitNorm);
        if (!(jumpreluBandwidth > 0)) throw new LoupeException(what + ": jumprelu_bandwidth must be > 0");
        if (!(jumpreluInitThreshold > 0)) throw new LoupeException(what + ": jumprelu_init_threshold must be > 0");
        if (!(topkThresholdLr >= 0 && topkThresholdLr <= 1))
            throw new LoupeException(what + ": topk_threshold_lr must be in [0, 1]");
        if (l1WarmUpSteps < 0 || l0WarmUpSteps < 0) throw new LoupeException(what + ": warm-up steps must be >= 0");
        if (normalizeActivations == null) normalizeActivations = Normalization.NONE;
        if (normalizeActivations != Normalization.NONE
                && normalizeActivations != Normalization.EXPECTED_AVERAGE_ONLY_IN)
            throw new LoupeException(what + ": training supports normalize_activations none or"
                    + " expected_average_only_in, not " + normalizeActivations.saeLensName());
        if (bDecInit == null) bDecInit = BDecInit.GEOMETRIC_MEDIAN;
        if (name == null || name.isBlank()) name = architecture.saeLensName() + "-" + dSae + (usesK ? "-k" + k : "");
    }

    private static void nonNegative(String what, String key, double v) {
        if (!(v >= 0 && Double.isFinite(v))) throw new LoupeException(what + ": " + key + " must be >= 0, got " + v);
    }

    /** SAELens's defaults for {@code architecture} on {@code hook}. */
    public static SaeSpec of(String hook, Architecture architecture, int dSae, int k) {
        Draft d = new Draft();
        d.hook = hook;
        d.architecture = architecture;
        d.dSae = dSae;
        d.k = k;
        return d.build();
    }

    public SaeSpec withName(String n) {
        return edit(d -> d.name = n);
    }

    public SaeSpec withL1(double coefficient, int warmUpSteps) {
        return edit(d -> {
            d.l1Coefficient = coefficient;
            d.l1WarmUpSteps = warmUpSteps;
        });
    }

    public SaeSpec withL0(double coefficient, int warmUpSteps) {
        return edit(d -> {
            d.l0Coefficient = coefficient;
            d.l0WarmUpSteps = warmUpSteps;
        });
    }

    public SaeSpec withJumpRelu(double bandwidth, double initThreshold) {
        return edit(d -> {
            d.jumpreluBandwidth = bandwidth;
            d.jumpreluInitThreshold = initThreshold;
        });
    }

    public SaeSpec withAuxLossCoefficient(double c) {
        return edit(d -> d.auxLossCoefficient = c);
    }

    public SaeSpec withRescaleActsByDecoderNorm(boolean on) {
        return edit(d -> d.rescaleActsByDecoderNorm = on);
    }

    public SaeSpec withNormalization(Normalization n) {
        return edit(d -> d.normalizeActivations = n);
    }

    public SaeSpec withApplyBDecToInput(boolean on) {
        return edit(d -> d.applyBDecToInput = on);
    }

    public SaeSpec withDecoderInitNorm(double norm) {
        return edit(d -> d.decoderInitNorm = norm);
    }

    public SaeSpec withBDecInit(BDecInit init) {
        return edit(d -> d.bDecInit = init);
    }

    /** A copy of this spec with {@code change} applied, validated again by the canonical constructor. */
    private SaeSpec edit(Consumer<Draft> change) {
        Draft d = new Draft(this);
        change.accept(d);
        return d.build();
    }

    /**
     * A spec being edited, so that each wither names only the fields it changes (and a new field is added here,
     * not in every wither). Its initial values are SAELens's defaults ({@link #of}); validation stays in the
     * canonical constructor, which {@link #build} calls.
     */
    private static final class Draft {
        String name;
        String hook;
        Architecture architecture;
        int dSae;
        int k;
        double l1Coefficient = 1.0;
        int l1WarmUpSteps = 0;
        double l0Coefficient = 1.0;
        int l0WarmUpSteps = 0;
        double jumpreluBandwidth = 0.05;
        double jumpreluInitThreshold = 0.01;
        double auxLossCoefficient = 1.0;
        boolean rescaleActsByDecoderNorm = true;
        double topkThresholdLr = 0.01;
        Normalization normalizeActivations = Normalization.NONE;
        boolean applyBDecToInput = true;
        double decoderInitNorm = 0.1;
        BDecInit bDecInit = BDecInit.GEOMETRIC_MEDIAN;

        Draft() {}

        Draft(SaeSpec s) {
            name = s.name;
            hook = s.hook;
            architecture = s.architecture;
            dSae = s.dSae;
            k = s.k;
            l1Coefficient = s.l1Coefficient;
            l1WarmUpSteps = s.l1WarmUpSteps;
            l0Coefficient = s.l0Coefficient;
            l0WarmUpSteps = s.l0WarmUpSteps;
            jumpreluBandwidth = s.jumpreluBandwidth;
            jumpreluInitThreshold = s.jumpreluInitThreshold;
            auxLossCoefficient = s.auxLossCoefficient;
            rescaleActsByDecoderNorm = s.rescaleActsByDecoderNorm;
            topkThresholdLr = s.topkThresholdLr;
            normalizeActivations = s.normalizeActivations;
            applyBDecToInput = s.applyBDecToInput;
            decoderInitNorm = s.decoderInitNorm;
            bDecInit = s.bDecInit;
        }

        SaeSpec build() {
            return new SaeSpec(
                    name,
                    hook,
                    architecture,
                    dSae,
                    k,
                    l1Coefficient,
                    l1WarmUpSteps,
                    l0Coefficient,
                    l0WarmUpSteps,
                    jumpreluBandwidth,
                    jumpreluInitThreshold,
                    auxLossCoefficient,
                    rescaleActsByDecoderNorm,
                    topkThresholdLr,
                    normalizeActivations,
                    applyBDecToInput,
                    decoderInitNorm,
                    bDecInit);
        }
    }
}
