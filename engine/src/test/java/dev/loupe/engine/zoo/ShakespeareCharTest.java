package dev.loupe.engine.zoo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.SharedData;
import dev.loupe.engine.autograd.NativeKernels;
import dev.loupe.engine.io.Checkpoint;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.tokenizer.CharTokenizer;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.engine.tokenizer.Tokenizers;
import dev.loupe.engine.train.Trainer;
import dev.loupe.engine.train.TrainingRun;
import dev.loupe.engine.train.tasks.TextTask;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.Table;

/** The embedded shakespeare-char is what its card says, and its recipe replays its history. */
class ShakespeareCharTest {
    static final String NAME = ZooRecipe.SHAKESPEARE_CHAR;

    static TextTask task() {
        return TextTask.load(SharedData.require("corpora/tinyshakespeare.txt"), "char", ZooRecipe.TEXT_SEQ_LEN);
    }

    /** The last validation loss of its history, as its card states it. */
    static double shippedValidationLoss() {
        DoubleColumn val = Zoo.history(NAME).doubleColumn("val_loss");
        return val.get(val.size() - 1);
    }

    @Test
    void shipsItsTokenizerAndLoadsAsAModelFolder(@TempDir Path dir) {
        Tokenizer tok = Zoo.tokenizer(NAME);
        assertInstanceOf(CharTokenizer.class, tok);
        assertEquals(66, tok.vocabSize());
        HookedTransformer model = Zoo.load(NAME);
        assertEquals(ZooRecipe.textModel(tok.vocabSize()), model.config());
        assertEquals(model.config(), Zoo.config(NAME));
        Zoo.copyTo(NAME, dir);
        assertEquals(model.config(), Checkpoint.load(dir).config());
        String s = "ROMEO:\nBut soft, what light through yonder window breaks?";
        assertArrayEquals(tok.toTokens(s), Tokenizers.load(dir).toTokens(s));
        String m = assertThrows(LoupeException.class, () -> Zoo.tokenizer("attn-only-2l"))
                .getMessage();
        assertTrue(m.contains("has no tokenizer: its tokens are plain ids"), m);
        m = assertThrows(LoupeException.class, () -> Zoo.recipe(NAME)).getMessage();
        assertTrue(m.contains("reads its corpus"), m);
    }

    /** Recomputed here on the held-out 10% of tinyshakespeare, the validation loss is the card's (and beats 1.75). */
    @Test
    void validationLossMatchesItsCard() {
        TextTask task = task();
        double recomputed = task.validationLoss(Zoo.load(NAME)), shipped = shippedValidationLoss();
        assertEquals(shipped, recomputed, 1e-5, "validation loss of the shipped weights");
        assertTrue(recomputed <= 1.75, "validation loss " + recomputed);
        String card = Zoo.card(NAME);
        assertTrue(card.contains(String.format(Locale.ROOT, "| val_loss | %.4g |", shipped)), card);
        assertTrue(
                card.contains("./loupe train --task text --corpus ../shared/corpora/tinyshakespeare.txt --out DIR"),
                card);
    }

    /**
     * The recipe's first steps are those of the run that made the shipped weights, bit for bit: the
     * same initial weights and batches, two shards and two OpenMP threads (the 2-processor machine
     * that trained it), the same float rounding. The steps run in a child JVM because the test JVMs
     * run ND4J on one OpenMP thread, which sums in another order (step 1's loss then differs in the
     * 7th digit). An engine change that moves rounding anywhere in a training step fails here:
     * retrain the model by its card's command and ship the new files with the change.
     */
    @Test
    void recipeReplaysItsHistoryBitForBit() throws Exception {
        Path corpus = SharedData.require("corpora/tinyshakespeare.txt");
        // The shipped run used the native kernels; ND4J's compositions round differently. CI installs a
        // C compiler, so there they must be present; elsewhere their absence skips the replay.
        String why = "the shipped model was trained with the native kernels, which this build lacks: "
                + NativeKernels.unavailableBecause();
        if ("true".equals(System.getenv("CI"))) assertTrue(NativeKernels.available(), why);
        else Assumptions.assumeTrue(NativeKernels.available(), why);
        int steps = 10;
        ProcessBuilder pb = new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx2g",
                "-cp",
                System.getProperty("java.class.path"),
                ReplayFirstSteps.class.getName(),
                corpus.toString(),
                Integer.toString(steps));
        pb.environment().put("OMP_NUM_THREADS", "2");
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the replay did not finish");
        assertEquals(0, p.exitValue(), out);
        List<String> losses = out.lines().filter(l -> l.startsWith("loss ")).toList();
        assertEquals(steps, losses.size(), out);
        Table shipped = Zoo.history(NAME);
        for (int step = 1; step <= steps; step++) {
            double want = shipped.doubleColumn("loss").get(step - 1),
                    got = Double.parseDouble(losses.get(step - 1).substring("loss ".length()));
            assertEquals(want, got, 0.0, "loss at step " + step + " vs the shipped history");
        }
    }

    /** The recipe's first steps, as the command runs them (two shards); prints {@code loss <value>} per step. */
    public static final class ReplayFirstSteps {
        public static void main(String[] args) {
            TextTask task = TextTask.load(Path.of(args[0]), "char", ZooRecipe.TEXT_SEQ_LEN);
            ZooRecipe recipe = ZooRecipe.text(task);
            TrainingRun run = new Trainer(task, recipe.training())
                    .showProgress(false)
                    .shards(2)
                    .stopAfter(Integer.parseInt(args[1]))
                    .train(recipe.modelConfig());
            for (var row : run.rows()) System.out.println("loss " + row.get("loss"));
        }
    }
}
