package dev.loupe.engine.train.tasks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.SharedData;
import dev.loupe.engine.autograd.Graph;
import dev.loupe.engine.io.Checkpoint;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.Losses;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Tokens;
import dev.loupe.engine.tokenizer.CharTokenizer;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.engine.tokenizer.Tokenizers;
import dev.loupe.engine.train.TaskBatch;
import dev.loupe.engine.train.Trainer;
import dev.loupe.engine.train.TrainingConfig;
import dev.loupe.engine.train.TrainingRun;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TextTaskTest {

    static String play(int lines, long seed) {
        return PlayText.of(lines, seed);
    }

    static Path write(Path dir, String text) throws IOException {
        Path f = Files.createDirectories(dir).resolve("play.txt");
        Files.writeString(f, text, StandardCharsets.UTF_8);
        return f;
    }

    static final ModelConfig TINY = ModelConfig.builder()
            .dModel(32)
            .nLayers(1)
            .nHeads(2)
            .dMlp(64)
            .dVocab(30)
            .nCtx(32)
            .build();

    @Test
    void splitsAsNanoGptAndReadsWindowsFromTheBos(@TempDir Path tmp) throws IOException {
        String text = play(200, 1);
        TextTask task = TextTask.load(write(tmp, text), "char", 32);
        CharTokenizer tok = (CharTokenizer) task.tokenizer();
        int n = text.length(), split = (int) (n * 0.9);
        assertArrayEquals(tok.encode(text.substring(0, split)), task.trainTokens());
        assertArrayEquals(tok.encode(text.substring(split)), task.validationTokens());
        int[] train = task.trainTokens();
        int bos = tok.bosId().getAsInt();
        TaskBatch batch = task.batch(8, new SplittableRandom(3));
        for (int b = 0; b < 8; b++) {
            int[] ids = batch.tokens().ids()[b], targets = batch.targets()[b];
            assertEquals(bos, ids[0]);
            assertArrayEquals(Arrays.copyOfRange(ids, 1, 32), Arrays.copyOfRange(targets, 0, 31));
            // the window is a piece of the training text
            String window = tok.decode(targets);
            assertTrue(tok.decode(train).contains(window), window);
        }
        // nanoGPT's numbers for tinyshakespeare: 1,003,854 training and 111,540 held-out characters
        Path corpus = SharedData.root() == null ? null : SharedData.root().resolve("corpora/tinyshakespeare.txt");
        if (corpus != null && Files.isRegularFile(corpus)) {
            TextTask shakespeare = TextTask.load(corpus, "char", 128);
            assertEquals(1_003_854, shakespeare.trainTokens().length);
            assertEquals(111_540, shakespeare.validationTokens().length);
        }
    }

    /** Every held-out token is predicted once, from windows that start at the BOS, the last one shorter. */
    @Test
    void validationLossIsTheMeanOverEveryHeldOutToken(@TempDir Path tmp) throws IOException {
        TextTask task = TextTask.load(write(tmp, play(60, 2)), "char", 32);
        ModelConfig cfg = TINY.toBuilder().dVocab(task.vocabSize()).build();
        HookedTransformer model = HookedTransformer.random(cfg, 7);
        int[] val = task.validationTokens();
        assertTrue(val.length % 32 != 0 && val.length > 64, "test needs a partial last window: " + val.length);
        int bos = task.tokenizer().bosId().getAsInt();
        double sum = 0;
        for (int s = 0; s < val.length; s += 32) { // one window at a time
            int len = Math.min(32, val.length - s);
            int[] in = new int[len], targets = Arrays.copyOfRange(val, s, s + len);
            in[0] = bos;
            System.arraycopy(val, s, in, 1, len - 1);
            try (Graph g = Graph.inference()) {
                sum += Losses.crossEntropy(g.constant(model.run(Tokens.of(in))), new int[][] {targets})
                                .item()
                        * len;
            }
        }
        assertEquals(sum / val.length, task.validationLoss(model), 1e-5);
        assertEquals(task.validationLoss(model), task.evaluate(model).get("val_loss"));
    }

    /**
     * A short run: the held-out loss falls well below chance, the run stopped and resumed replays
     * the uninterrupted one bit for bit, and the output folder is one loadable model with its tokenizer.
     */
    @Test
    void aShortRunLearnsAndReplaysExactly(@TempDir Path tmp) throws IOException {
        TextTask task = TextTask.load(write(tmp, play(400, 3)), "char", 32);
        ModelConfig cfg = TINY.toBuilder().dVocab(task.vocabSize()).build();
        TrainingConfig training = TrainingConfig.builder()
                .steps(200)
                .batchSize(16)
                .lr(1e-2)
                .weightDecay(0.1)
                .betas(0.9, 0.99)
                .warmupSteps(10)
                .evalEvery(100)
                .checkpointEvery(50)
                .seed(4)
                .initRange(0.02)
                .build();
        TrainingRun whole = new Trainer(task, training)
                .showProgress(false)
                .shards(2)
                .outputTo(tmp.resolve("a"))
                .train(cfg);
        double chance = Math.log(task.vocabSize());
        assertEquals(chance, whole.rows().get(0).get("loss"), 0.2, "starts near chance");
        double val = whole.last("val_loss");
        assertTrue(val < 0.6 * chance, "held-out loss " + val + " vs chance " + chance);

        new Trainer(task, training)
                .showProgress(false)
                .shards(2)
                .outputTo(tmp.resolve("b"))
                .stopAfter(120)
                .train(cfg);
        TrainingRun resumed = new Trainer(task, training)
                .showProgress(false)
                .shards(2)
                .outputTo(tmp.resolve("b"))
                .train(cfg);
        assertEquals(whole.rows(), resumed.rows(), "the resumed run's history, step by step");

        Path out = tmp.resolve("b");
        HookedTransformer model = Checkpoint.load(out);
        Tokenizer tok = Tokenizers.load(out);
        assertInstanceOf(CharTokenizer.class, tok);
        assertEquals(val, task.validationLoss(model), 1e-6, "the saved model is the trained one");
        assertTrue(Files.isRegularFile(out.resolve("checkpoints/step-0000200/" + CharTokenizer.FILE)));
        assertArrayEquals(tok.encode("ROMEO:\n"), task.tokenizer().encode("ROMEO:\n"));
        // Another corpus is not resumed from these checkpoints.
        TextTask other = TextTask.load(write(tmp.resolve("c"), play(400, 4)), "char", 32);
        String m = assertThrows(LoupeException.class, () -> new Trainer(
                                other, training.toBuilder().steps(250).build())
                        .showProgress(false)
                        .outputTo(out)
                        .train(cfg))
                .getMessage();
        assertTrue(m.contains("another training config") || m.contains("was trained on task 'text corpus sha256"), m);
        m = assertThrows(LoupeException.class, () -> new Trainer(other, training)
                        .showProgress(false)
                        .outputTo(tmp.resolve("b"))
                        .train(cfg))
                .getMessage();
        assertTrue(m.contains("was trained on task 'text corpus sha256 " + task.sha256()), m);
    }

    @Test
    void badCorporaAreRefusedWithTheFileNamed(@TempDir Path tmp) throws IOException {
        Path bad = tmp.resolve("bad.txt");
        Files.write(bad, new byte[] {'a', 'b', (byte) 0xC3, '(', 'c'});
        String m = assertThrows(LoupeException.class, () -> TextTask.load(bad, "char", 8))
                .getMessage();
        assertTrue(m.contains(bad.toString()) && m.contains("invalid UTF-8 at byte offset 2"), m);
        Path small = write(tmp, "tiny text");
        m = assertThrows(LoupeException.class, () -> TextTask.load(small, "char", 32))
                .getMessage();
        assertTrue(m.contains("shorter than one sequence of 32"), m);
        m = assertThrows(LoupeException.class, () -> TextTask.load(tmp.resolve("missing.txt"), "char", 8))
                .getMessage();
        assertTrue(m.contains("missing.txt: cannot read"), m);
        TextTask task = TextTask.load(write(tmp, play(50, 1)), "char", 32);
        m = assertThrows(
                        LoupeException.class,
                        () -> task.validate(TINY.toBuilder().nCtx(16).build(), 8))
                .getMessage();
        assertTrue(m.contains("sequences of 32 tokens are longer than the model's n_ctx 16"), m);
        m = assertThrows(
                        LoupeException.class,
                        () -> task.validate(TINY.toBuilder().dVocab(5).build(), 8))
                .getMessage();
        assertTrue(m.contains("more than the model's d_vocab 5"), m);
        assertFalse(task.identity().isEmpty());
    }
}
