package dev.loupe.saes;

import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Makes the SAE class of a config's architecture from its tensors. */
public final class Saes {
    private Saes() {}

    /** The SAE of {@code config}'s architecture over {@code tensors} (SAELens names); {@code where} names the source in errors. */
    public static Sae create(SaeConfig config, Map<String, INDArray> tensors, String where) {
        return switch (config.architecture()) {
            case STANDARD -> new StandardSae(config, tensors, where);
            case TOPK -> new TopKSae(config, tensors, where);
            case JUMPRELU -> new JumpReLUSae(config, tensors, where);
            case GATED -> new GatedSae(config, tensors, where);
            case BATCHTOPK -> throw new IllegalStateException("SaeConfig never holds BATCHTOPK");
        };
    }
}
