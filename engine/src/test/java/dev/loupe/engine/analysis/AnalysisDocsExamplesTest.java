package dev.loupe.engine.analysis;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import dev.loupe.engine.hooks.ActivationFilter;
import dev.loupe.engine.hooks.Hook;
import dev.loupe.engine.loaders.ModelLoader;
import dev.loupe.engine.model.ForwardResult;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.PromptTest;
import dev.loupe.engine.model.TestModels;
import dev.loupe.engine.model.Tokens;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import tech.tablesaw.api.Table;

/** The code examples of docs/analysis.md, verbatim, on a tiny random model. */
class AnalysisDocsExamplesTest {
    /** gpt2-like (two layers of two heads, d_model 8, vocabulary 11) with room for 17 tokens. */
    private final HookedTransformer model = HookedTransformer.random(
            TestModels.all("float32").get("gpt2-like").toBuilder().nCtx(32).build(), 3);

    @Test
    void examples() {
        Tokens clean = Tokens.of(new int[] {1, 4, 7, 2, 9, 3}), corrupted = Tokens.of(new int[] {1, 6, 7, 2, 3, 3});
        Patching patching = Patching.of(model, clean, corrupted, PatchingMetric.logitDiff(3, 7));
        PatchResult resid = patching.residPre(); // [layer, pos]
        PatchResult heads = patching.headOutAllPos(); // [layer, head]: each head's z at every position
        Table byValue = heads.table().sortDescendingOn("value"); // layer, head, value
        double cleanDiff = patching.cleanValue(), corruptedDiff = patching.corruptedValue();
        PatchResult normalized = patching.normalized().residPre(); // 0 = corrupted, 1 = clean
        assertArrayEquals(new long[] {2, 6}, resid.values().shape());
        assertEquals(4, byValue.rowCount());
        assertEquals((resid.get(1, 2) - corruptedDiff) / (cleanDiff - corruptedDiff), normalized.get(1, 2), 1e-5);

        // patch the first two positions of resid_pre at once, in each layer
        PatchResult firstTwo = patching.generic(
                "resid_pre", List.of("layer"), (corrupt, index, cleanAct) -> corrupt.get(all(), interval(0, 2))
                        .assign(cleanAct.get(all(), interval(0, 2))));
        assertArrayEquals(new long[] {2}, firstTwo.values().shape());

        PathPatching paths = PathPatching.of(model, clean, corrupted, PatchingMetric.logitDiff(3, 7));
        double viaKeys = paths.toHeads(List.of(Head.of(0, 1)), List.of(Head.of(1, 0)), "k");
        double direct = paths.toResid(List.of(Head.of(0, 1))); // only the path to the final residual
        PatchResult intoKeys = paths.sweepToHeads(List.of(Head.of(1, 0)), "k"); // every earlier head as sender
        assertEquals(viaKeys, intoKeys.get(0, 1), 1e-6);
        assertTrue(Double.isFinite(direct));

        AttributionPatching atp = AttributionPatching.of(model, clean, corrupted, PatchingMetric.logitDiff(3, 7));
        PatchResult estimate = atp.headOutAllPos(); // [layer, head]
        double r = estimate.correlation(patching.headOutAllPos().minus(patching.corruptedValue()));
        PatchResult neurons = atp.neurons(); // [layer, neuron]: hook_post
        assertTrue(r > -1.0001 && r < 1.0001);
        assertArrayEquals(new long[] {2, 12}, neurons.values().shape());

        ForwardResult run = model.runWithCache(clean, ActivationFilter.all());
        ResidualStream rs = ResidualStream.of(model, run.cache());
        ComponentStack lens = rs.accumulatedResid(); // 0_pre, 1_pre, ..., final_post; final norm applied to each
        INDArray layerLogits = rs.unembed(lens.components()); // [n_layers + 1, batch, pos, d_vocab]
        ComponentStack parts =
                rs.decomposeResid(-1, false, "all", true, true); // embed, pos_embed, 0_attn_out, 0_mlp_out, ...
        INDArray dla = rs.logitAttrs(parts.components(), 3, 7); // [component, batch, pos]: direct logit difference
        ComponentStack perHead = rs.stackHeadResults(-1, true, true); // L0H0 ... L1H1, remainder
        assertArrayEquals(new long[] {3, 1, 6, 11}, layerLogits.shape());
        assertArrayEquals(new long[] {6, 1, 6}, dla.shape());
        assertEquals(List.of("L0H0", "L0H1", "L1H0", "L1H1", "remainder"), perHead.labels());

        FactoredMatrix ov = FactoredMatrix.ov(model); // [n_layers, n_heads, d_model, d_model], never formed
        FactoredMatrix.Svd svd = ov.get(0, 1).svd(); // U [d_model, d_head], S [d_head], V [d_model, d_head]
        FactoredMatrix.Eigenvalues eig = ov.get(0, 1).eigenvalues(); // of A B, via the small B A
        INDArray kComposition = FactoredMatrix.allCompositionScores(model, "K"); // [layer, head, layer, head]
        assertArrayEquals(new long[] {8, 4}, svd.u().shape());
        assertArrayEquals(new long[] {4}, eig.real().shape());
        assertArrayEquals(new long[] {2, 2, 2, 2}, kComposition.shape());

        int[] seq = HeadScores.repeatedRandomTokens(1, 8, model.config().dVocab(), 0, 3)
                .ids()[0];
        INDArray previous = HeadDetector.detectHead(model, seq, "previous_token_head"); // [layer, head]
        INDArray custom = HeadDetector.detectHead(model, seq, Nd4j.eye(seq.length)); // attention to itself
        assertArrayEquals(new long[] {2, 2}, previous.shape());
        assertArrayEquals(new long[] {2, 2}, custom.shape());
    }

    /** The researcher verbs' example, on a tiny random model saved with GPT-2's tokenizer beside it. */
    @Test
    void researcherVerbs(@TempDir Path dir) throws IOException {
        TestModels.savedWithGpt2Tokenizer(dir);
        HookedTransformer model = ModelLoader.load(dir.toString()); // the folder's tokenizer comes with it
        String prompt = "When Mary and John went out, John gave it to";
        Tokens tokens = model.toTokens(prompt); // [1, 12], BOS (<|endoftext|>) first
        List<String> strs = model.toStrTokens("When Mary and John"); // <|endoftext|>, When,  Mary,  and,  John
        int mary = model.toSingleToken(" Mary"); // 5335; two tokens are an error
        int johnAt = model.getTokenPosition(" John", prompt); // 4 (first); getTokenPosition(id, ids, "last")
        PromptTest test = model.testPrompt(prompt, "Mary"); // rank, logit, prob of each answer token, top 10
        System.out.println(test); // as utils.test_prompt prints it
        Hook ablate = Hook.forward("z", 1, (z, hook) -> { // short name and layer
            z.get(all(), all(), point(0), all()).assign(0); // edited in place
            return null;
        });
        double loss = model.loss(tokens, ablate); // return_type="loss" with hooks
        INDArray perToken = model.perTokenLoss(tokens, ablate); // [batch, pos - 1]: loss_per_token=True
        ForwardResult r = model.runWithCache(tokens, ActivationFilter.names("z1"), ablate); // hooks and cache, one pass
        assertEquals(12, tokens.length());
        assertEquals(50256, tokens.ids()[0][0]);
        assertEquals(List.of("<|endoftext|>", "When", " Mary", " and", " John"), strs);
        assertEquals(5335, mary);
        assertEquals(4, johnAt);
        assertEquals(1, test.answers().size());
        assertEquals(loss, perToken.meanNumber().doubleValue(), 1e-5);
        assertEquals(
                0,
                r.cache()
                        .get("z", 1)
                        .get(all(), all(), point(0), all())
                        .norm1Number()
                        .doubleValue());
    }
}
