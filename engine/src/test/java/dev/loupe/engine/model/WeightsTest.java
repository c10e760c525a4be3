package dev.loupe.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;

class WeightsTest {

    /** A training run's initial weights are a function of its seed (ND4J's shared generator broke this). */
    @Test
    void sameSeedSameWeightsWhateverWasDrawnBefore() {
        ModelConfig c = TestModels.all("float32").get("gpt2-like");
        Weights a = Weights.forTraining(c, 42, 0.02);
        Nd4j.getRandom().setSeed(42);
        Nd4j.randn(org.nd4j.linalg.api.buffer.DataType.FLOAT, 1000); // other code drawing from the shared generator
        Weights b = Weights.forTraining(c, 42, 0.02);
        Weights other = Weights.forTraining(c, 43, 0.02);
        a.stateDict(c).forEach((name, t) -> {
            assertEquals(t, b.stateDict(c).get(name), name);
            if (name.startsWith("blocks.0.attn.W_Q"))
                assertNotEquals(t, other.stateDict(c).get(name), name);
        });
        assertEquals(0.02, a.stateDict(c).get("embed.W_E").stdNumber().doubleValue(), 0.005);
    }
}
