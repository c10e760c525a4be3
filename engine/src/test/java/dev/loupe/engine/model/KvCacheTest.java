package dev.loupe.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hooks.Hook;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** The KV cache's handling of failures and misuse (its numerics are tested through generation). */
class KvCacheTest {
    static final HookedTransformer MODEL = HookedTransformer.random(
            ModelConfig.builder()
                    .dModel(16)
                    .nLayers(2)
                    .nHeads(2)
                    .dVocab(20)
                    .nCtx(16)
                    .build(),
            3);
    static final int[] SEQ = {3, 1, 4, 1, 5, 9};

    static INDArray step(KvCache kv, int... ids) {
        return MODEL.forward(ForwardRequest.of(Tokens.of(ids)).kvCache(kv).build())
                .logits();
    }

    static void assertClose(INDArray want, INDArray got) {
        double diff = want.castTo(DataType.DOUBLE)
                .sub(got.castTo(DataType.DOUBLE))
                .amaxNumber()
                .doubleValue();
        assertTrue(diff < 1e-5, "max |diff| " + diff);
    }

    @Test
    void aPassThatFailsPartWayLeavesTheCacheUnchanged() {
        KvCache kv = new KvCache(2);
        step(kv, 3, 1, 4);
        Hook boom = Hook.forward("blocks.1.attn.hook_q", (x, h) -> {
            throw new IllegalStateException("hook failed");
        });
        assertThrows(
                IllegalStateException.class,
                () -> MODEL.forward(ForwardRequest.of(Tokens.of(new int[] {1}))
                        .kvCache(kv)
                        .hooks(boom)
                        .build()));
        assertEquals(3, kv.length());
        step(kv, 1, 5);
        INDArray last = step(kv, 9);
        INDArray full = MODEL.run(Tokens.of(SEQ));
        assertClose(full.get(NDArrayIndex.all(), NDArrayIndex.interval(5, 6), NDArrayIndex.all()), last);
    }

    @Test
    void outOfVocabularyPadIdsAreAccepted() {
        List<int[]> seqs = List.of(new int[] {3, 1, 4}, new int[] {5});
        INDArray withZero = MODEL.run(Tokens.padded(seqs, 0, Tokens.Side.LEFT));
        INDArray withMinusOne = MODEL.run(Tokens.padded(seqs, -1, Tokens.Side.LEFT));
        assertClose(
                withZero.get(NDArrayIndex.all(), NDArrayIndex.point(2), NDArrayIndex.all()),
                withMinusOne.get(NDArrayIndex.all(), NDArrayIndex.point(2), NDArrayIndex.all()));
        LoupeException e = assertThrows(LoupeException.class, () -> MODEL.run(Tokens.of(new int[] {3, -1})));
        assertTrue(e.getMessage().contains("out of range"), e.getMessage());
    }

    @Test
    void misuseIsALoupeException() {
        KvCache kv = new KvCache(2);
        step(kv, 3, 1);
        assertThrows(
                LoupeException.class,
                () -> MODEL.forward(ForwardRequest.of(Tokens.of(new int[] {1}, new int[] {2}))
                        .kvCache(kv)
                        .build()),
                "batch size changed");
        assertThrows(
                LoupeException.class,
                () -> MODEL.forward(ForwardRequest.of(Tokens.of(new int[] {1}))
                        .kvCache(kv)
                        .stopAtLayer(1)
                        .build()),
                "stops early");
        assertThrows(
                LoupeException.class,
                () -> MODEL.forward(ForwardRequest.of(Tokens.of(new int[] {1}))
                        .kvCache(new KvCache(3))
                        .build()),
                "wrong layer count");
        assertEquals(2, kv.length());
        step(kv, 4);
        assertEquals(3, kv.length());
    }
}
