package dev.loupe.engine.zoo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.SharedData;
import dev.loupe.engine.io.Checkpoint;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.tokenizer.CharTokenizer;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.engine.tokenizer.Tokenizers;
import dev.loupe.engine.train.Trainer;
import dev.loupe.engine.train.TrainingRun;
import dev.loupe.engine.train.tasks.TextTask;
import java.nio.file.Path;
import java.util.Locale;
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
     * The recipe's first steps are those of the run that made the shipped weights: the same initial
     * weights and batches (two shards, as on the 2-processor machine that trained it). Exact on
     * that code; a change of float rounding elsewhere in the engine may move later steps slightly.
     */
    @Test
    void recipeReplaysItsHistory() {
        TextTask task = task();
        ZooRecipe recipe = ZooRecipe.text(task);
        assertEquals(NAME, recipe.model());
        int steps = 6;
        TrainingRun run = new Trainer(task, recipe.training())
                .showProgress(false)
                .shards(2)
                .stopAfter(steps)
                .train(recipe.modelConfig());
        Table shipped = Zoo.history(NAME);
        for (int step = 1; step <= steps; step++) {
            double want = shipped.doubleColumn("loss").get(step - 1),
                    got = run.rows().get(step - 1).get("loss");
            assertEquals(want, got, 1e-5 * want, "loss at step " + step + " vs the shipped history");
        }
    }
}
