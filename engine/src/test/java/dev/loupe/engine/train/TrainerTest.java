package dev.loupe.engine.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.Checkpoint;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.train.tasks.InductionTask;
import dev.loupe.engine.train.tasks.ModularAdditionTask;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

class TrainerTest {
    static final InductionTask SMALL_INDUCTION = new InductionTask(32, 24);
    static final ModelConfig SMALL_ATTN_ONLY = ModelConfig.builder()
            .dModel(32)
            .nLayers(2)
            .nHeads(2)
            .attnOnly(true)
            .dVocab(32)
            .nCtx(24)
            .build();

    static TrainingConfig.Builder small() {
        return TrainingConfig.builder()
                .steps(12)
                .batchSize(8)
                .lr(3e-3)
                .warmupSteps(2)
                .seed(5);
    }

    @Test
    void aResumedRunComputesExactlyWhatTheUninterruptedRunComputes(@TempDir Path tmp) {
        TrainingConfig c = small().checkpointEvery(4).evalEvery(6).build();
        TrainingRun whole = new Trainer(SMALL_INDUCTION, c)
                .showProgress(false)
                .outputTo(tmp.resolve("a"))
                .train(SMALL_ATTN_ONLY);

        TrainingRun first = new Trainer(SMALL_INDUCTION, c)
                .showProgress(false)
                .outputTo(tmp.resolve("b"))
                .stopAfter(7)
                .train(SMALL_ATTN_ONLY);
        assertEquals(7, first.rows().size());
        assertTrue(Files.isDirectory(tmp.resolve("b/checkpoints/step-0000007")));
        assertFalse(Files.exists(tmp.resolve("b/model.safetensors")), "an unfinished run writes no final model");
        TrainingRun resumed = new Trainer(SMALL_INDUCTION, c)
                .showProgress(false)
                .outputTo(tmp.resolve("b"))
                .train(SMALL_ATTN_ONLY);

        assertEquals(whole.rows(), resumed.rows(), "loss history, step by step");
        Map<String, INDArray> a = whole.model().stateDict(), b = resumed.model().stateDict();
        for (String n : a.keySet())
            assertArrayEquals(
                    a.get(n).dup().data().asFloat(), b.get(n).dup().data().asFloat(), n + " differs after resuming");
        HookedTransformer saved = Checkpoint.load(tmp.resolve("b"));
        assertArrayEquals(
                a.get("blocks.1.attn.W_Q").dup().data().asFloat(),
                saved.stateDict().get("blocks.1.attn.W_Q").dup().data().asFloat());
        assertTrue(Files.isRegularFile(tmp.resolve("b/history.csv")));
        // Only the two newest checkpoints are kept.
        assertEquals(List.of("step-0000008", "step-0000012"), list(tmp.resolve("b/checkpoints")));
    }

    @Test
    void lossFallsOnModularAddition() {
        ModularAdditionTask task = new ModularAdditionTask(23, 0.5, 1);
        ModelConfig cfg = ModelConfig.builder()
                .dModel(32)
                .nLayers(1)
                .nHeads(2)
                .dMlp(64)
                .activation(ModelConfig.Activation.RELU)
                .normalization(ModelConfig.Normalization.NONE)
                .dVocab(task.dVocab())
                .nCtx(3)
                .build();
        TrainingRun run = new Trainer(
                        task,
                        TrainingConfig.builder()
                                .steps(200)
                                .batchSize(task.trainSize())
                                .lr(3e-3)
                                .weightDecay(1.0)
                                .betas(0.9, 0.98)
                                .schedule(TrainingConfig.Schedule.CONSTANT)
                                .gradClip(0)
                                .seed(3)
                                .build())
                .showProgress(false)
                .train(cfg);
        double start = run.rows().get(0).get("loss"), end = run.last("loss");
        assertEquals(Math.log(23), start, 0.3, "starts near chance");
        assertTrue(end < 0.5 * start, "train loss " + start + " -> " + end);
        assertTrue(run.last("train_accuracy") > 0.5, "memorises the training pairs: " + run.last("train_accuracy"));
    }

    @Test
    void invalidSettingsAreRefusedBeforeTraining() {
        ModularAdditionTask task = new ModularAdditionTask(23, 0.5, 1);
        ModelConfig cfg = ModelConfig.builder()
                .dModel(16)
                .nLayers(1)
                .nHeads(2)
                .dVocab(24)
                .nCtx(3)
                .build();
        String m = assertThrows(LoupeException.class, () -> new Trainer(
                                task, small().batchSize(10_000).build())
                        .showProgress(false)
                        .train(cfg))
                .getMessage();
        assertTrue(m.contains("batch size 10000 is larger than the training set (265 pairs"), m);
        m = assertThrows(LoupeException.class, () -> new Trainer(new InductionTask(32, 64), small().build())
                        .showProgress(false)
                        .train(SMALL_ATTN_ONLY))
                .getMessage();
        assertTrue(m.contains("seq_len 64 is longer than the model's n_ctx 24"), m);
    }

    @Test
    void aCheckpointOfAnotherConfigIsNotResumed(@TempDir Path tmp) {
        new Trainer(SMALL_INDUCTION, small().steps(3).build())
                .showProgress(false)
                .outputTo(tmp)
                .train(SMALL_ATTN_ONLY);
        ModelConfig wider = SMALL_ATTN_ONLY.toBuilder().dModel(48).build();
        String m = assertThrows(LoupeException.class, () -> new Trainer(
                                SMALL_INDUCTION, small().steps(6).build())
                        .showProgress(false)
                        .outputTo(tmp)
                        .train(wider))
                .getMessage();
        assertTrue(m.contains("another model config") && m.contains("step-0000003"), m);
        m = assertThrows(LoupeException.class, () -> new Trainer(
                                SMALL_INDUCTION, small().steps(6).lr(1e-2).build())
                        .showProgress(false)
                        .outputTo(tmp)
                        .train(SMALL_ATTN_ONLY))
                .getMessage();
        assertTrue(m.contains("another training config"), m);
    }

    @Test
    void divergenceStopsWithTheStepAndKeepsTheLastGoodCheckpoint(@TempDir Path tmp) {
        TrainingConfig explosive =
                small().lr(1e30).gradClip(0).warmupSteps(0).checkpointEvery(1).build();
        LoupeException e = assertThrows(LoupeException.class, () -> new Trainer(SMALL_INDUCTION, explosive)
                .showProgress(false)
                .outputTo(tmp)
                .train(SMALL_ATTN_ONLY));
        String m = e.getMessage();
        assertTrue(m.contains("training diverged") && m.contains("at step 2"), m);
        assertTrue(m.contains("last good checkpoint is " + tmp.resolve("checkpoints/step-0000001")), m);
        assertEquals(List.of("step-0000001"), list(tmp.resolve("checkpoints")), "nothing was saved after the bad step");
        HookedTransformer lastGood = Checkpoint.load(tmp.resolve("checkpoints/step-0000001"));
        for (INDArray w : lastGood.stateDict().values())
            assertFalse(w.isInfinite().any() || w.isNaN().any());
    }

    /** A real full disk: a 256 KiB tmpfs (needs root; skipped where mounting is not allowed). */
    @Test
    void aFullDiskWhileSavingKeepsThePreviousCheckpoint(@TempDir Path tmp) throws Exception {
        Path disk = Files.createDirectories(tmp.resolve("disk"));
        Process mount = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", disk.toString())
                .redirectErrorStream(true)
                .start();
        org.junit.jupiter.api.Assumptions.assumeTrue(mount.waitFor() == 0, "cannot mount a tmpfs here");
        try {
            TrainingConfig c = small().steps(6).checkpointEvery(1).build();
            LoupeException e = assertThrows(LoupeException.class, () -> new Trainer(SMALL_INDUCTION, c)
                    .showProgress(false)
                    .outputTo(disk)
                    .train(SMALL_ATTN_ONLY));
            String m = e.getMessage();
            assertTrue(m.contains("could not save the checkpoint of step") && m.contains("is intact"), m);
            Path latest = TrainingCheckpoint.latest(disk).orElseThrow();
            assertTrue(m.contains(latest.toString()), m);
            assertEquals(
                    List.of(latest.getFileName().toString()),
                    list(disk.resolve("checkpoints")).stream()
                            .filter(n -> n.startsWith("step-"))
                            .toList());
            assertTrue(
                    list(disk.resolve("checkpoints")).stream().noneMatch(n -> n.endsWith(".tmp")),
                    "temporary folder removed");
            HookedTransformer model = Checkpoint.load(latest);
            assertEquals(SMALL_ATTN_ONLY, model.config());
            assertTrue(TrainingCheckpoint.readState(latest).step() >= 1);
        } finally {
            new ProcessBuilder("umount", disk.toString()).start().waitFor();
        }
    }

    /**
     * Shards of a batch, computed in parallel, sum to the whole batch's gradient: the same losses and
     * weights as one shard, up to float rounding. Padded sequences and ignored targets make the
     * shards count different numbers of positions, and 3 shards of 8 sequences are uneven.
     */
    @Test
    void shardsOfABatchTrainAsTheWholeBatch() {
        Task padded = (batchSize, rng) -> {
            List<int[]> seqs = new java.util.ArrayList<>();
            for (int b = 0; b < batchSize; b++) {
                int[] s = new int[8 + 2 * b];
                for (int i = 0; i < s.length; i++) s[i] = rng.nextInt(32);
                seqs.add(s);
            }
            dev.loupe.engine.model.Tokens tokens =
                    dev.loupe.engine.model.Tokens.padded(seqs, 0, dev.loupe.engine.model.Tokens.Side.RIGHT);
            TaskBatch batch = TaskBatch.nextToken(tokens);
            batch.targets()[1][0] = dev.loupe.engine.model.Losses.IGNORE;
            return batch;
        };
        TrainingConfig c = small().steps(4).build();
        TrainingRun one = new Trainer(padded, c).shards(1).showProgress(false).train(SMALL_ATTN_ONLY);
        for (int shards : new int[] {3, 8}) {
            TrainingRun split =
                    new Trainer(padded, c).shards(shards).showProgress(false).train(SMALL_ATTN_ONLY);
            for (int i = 0; i < 4; i++)
                for (String col : new String[] {"loss", "grad_norm"}) {
                    double want = one.rows().get(i).get(col),
                            got = split.rows().get(i).get(col);
                    assertEquals(want, got, 1e-5 * want, shards + " shards: " + col + " at step " + (i + 1));
                }
            Map<String, INDArray> a = one.model().stateDict(), b = split.model().stateDict();
            // b_K's true gradient is 0 (softmax ignores a constant shift of the scores), so it gets
            // rounding noise that Adam scales up to steps of ~lr: it is not compared.
            for (String n : a.keySet())
                if (!n.endsWith("b_K"))
                    assertTrue(a.get(n).equalsWithEps(b.get(n), 1e-5), shards + " shards: " + n + " after 4 steps");
        }
    }

    /** A bad target in the last shard is reported with its place in the whole batch, from whichever thread found it. */
    @Test
    void aBadTargetInAnyShardNamesItsPlaceInTheBatch() {
        Task bad = (batchSize, rng) -> {
            TaskBatch batch = SMALL_INDUCTION.batch(batchSize, rng);
            batch.targets()[7][3] = 99;
            return batch;
        };
        String m = assertThrows(LoupeException.class, () -> new Trainer(bad, small().build())
                        .shards(2)
                        .showProgress(false)
                        .train(SMALL_ATTN_ONLY))
                .getMessage();
        assertTrue(m.contains("target 99 at [7, 3]") && m.contains("vocabulary of 32") && m.contains("step 1"), m);
        Task badToken = (batchSize, rng) -> {
            TaskBatch batch = SMALL_INDUCTION.batch(batchSize, rng);
            batch.tokens().ids()[6][2] = 32;
            return batch;
        };
        m = assertThrows(LoupeException.class, () -> new Trainer(badToken, small().build())
                        .shards(2)
                        .showProgress(false)
                        .train(SMALL_ATTN_ONLY))
                .getMessage();
        assertTrue(m.contains("token id 32 at [6, 2]") && m.contains("vocabulary of 32"), m);
    }

    static List<String> list(Path dir) {
        try (var s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
