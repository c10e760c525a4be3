package dev.loupe.engine.loaders;

import dev.loupe.engine.model.ModelConfig;

/** How one Hugging Face {@code model_type} maps onto Loupe: its config keys and its tensors. */
interface HfFamily {
    /** The Loupe config that {@code config.json} describes. */
    ModelConfig config(HfConfig c);

    /**
     * Reads every weight into {@code w} under Loupe's names, in the compute layout of
     * {@link dev.loupe.engine.model.Weights}, and fails on tensors the model does not use.
     */
    void readWeights(ModelConfig cfg, HfConfig c, HfWeights w);
}
