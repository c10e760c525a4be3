package dev.loupe.saes.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.saes.Architecture;
import dev.loupe.saes.Fixtures;
import dev.loupe.saes.Normalization;
import dev.loupe.saes.Sae;
import dev.loupe.saes.io.SaeLensFolder;
import dev.loupe.store.read.ActivationStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class SaeTrainerTest {
    static final String A = "blocks.0.hook_resid_post", B = "blocks.1.hook_mlp_out";

    @TempDir
    static Path tmp;

    static Path store;

    @BeforeAll
    static void harvest() {
        store = Fixtures.store(tmp, List.of(A, B), 64); // 1024 rows per hook
    }

    static SaeTrainer trainer(int steps) {
        SaeTrainingConfig cfg = SaeTrainingConfig.of(steps, 96, 2e-3, 5)
                .withCheckpointEvery(4)
                .withDeadFeatureWindow(3)
                .withFeatureSamplingWindow(5)
                .withShuffleBufferRows(300)
                .withSchedule(SaeTrainingConfig.Scheduler.COSINEANNEALING, 2, 3, 0);
        return new SaeTrainer(cfg)
                .add(SaeSpec.of(A, Architecture.TOPK, 96, 4))
                .add(SaeSpec.of(A, Architecture.BATCHTOPK, 64, 3).withName("a-batchtopk"))
                .add(SaeSpec.of(B, Architecture.JUMPRELU, 48, 0).withL0(0.1, 4))
                .add(SaeSpec.of(B, Architecture.STANDARD, 48, 0).withL1(0.5, 3).withBDecInit(SaeSpec.BDecInit.MEAN))
                .add(SaeSpec.of(A, Architecture.GATED, 40, 0).withNormalization(Normalization.EXPECTED_AVERAGE_ONLY_IN))
                .showProgress(false);
    }

    @Test
    void severalSaesOfSeveralHooksFromOnePassThenAResumedRunIsBitExact() throws Exception {
        Path whole = tmp.resolve("whole"), resumed = tmp.resolve("resumed");
        SaeTrainingRun run;
        try (ActivationStore s = ActivationStore.open(store)) {
            run = trainer(13).outputTo(whole).train(s);
        }
        assertEquals(5, run.saes().size());
        assertEquals(13, run.history().size());
        try (ActivationStore s = ActivationStore.open(store)) {
            trainer(13).outputTo(resumed).stopAfter(6).train(s); // as if killed after step 6's checkpoint
        }
        assertTrue(Files.isDirectory(resumed.resolve("checkpoints/step-0000006")));
        try (ActivationStore s = ActivationStore.open(store)) {
            trainer(13).outputTo(resumed).train(s);
        }
        for (String name : List.of("topk-96-k4", "a-batchtopk", "jumprelu-48", "standard-48", "gated-40")) {
            Path a = whole.resolve(name), b = resumed.resolve(name);
            assertArrayEquals(
                    Files.readAllBytes(a.resolve(SaeLensFolder.WEIGHTS)),
                    Files.readAllBytes(b.resolve(SaeLensFolder.WEIGHTS)),
                    name + ": the resumed run's weights differ");
            assertEquals(
                    Files.readString(a.resolve(SaeLensFolder.CONFIG)),
                    Files.readString(b.resolve(SaeLensFolder.CONFIG)));
            Sae back = SaeLensFolder.read(a);
            assertTrue(back.config().hookName().equals(A)
                    || back.config().hookName().equals(B));
        }
        assertEquals(withoutTimes(whole.resolve("history.csv")), withoutTimes(resumed.resolve("history.csv")));
        // BatchTopK became JumpReLU; expected_average_only_in was folded in
        assertEquals(
                Architecture.JUMPRELU,
                SaeLensFolder.read(whole.resolve("a-batchtopk")).config().architecture());
        assertEquals(
                Normalization.NONE,
                SaeLensFolder.read(whole.resolve("gated-40")).config().normalizeActivations());
        assertEquals(
                "small-random",
                SaeLensFolder.read(whole.resolve("gated-40")).config().modelName());
        assertTrue(Files.isRegularFile(whole.resolve("topk-96-k4").resolve(SaeLensFolder.SPARSITY)));
    }

    /** The history without its wait_ms column (wall-clock times differ between runs). */
    static String withoutTimes(Path csv) throws Exception {
        StringBuilder sb = new StringBuilder();
        for (String line : Files.readAllLines(csv)) {
            String[] cells = line.split(",");
            for (int i = 0; i < cells.length; i++)
                if (i != 2) sb.append(cells[i]).append(',');
            sb.append('\n');
        }
        assertTrue(Files.readAllLines(csv).get(0).split(",")[2].equals("wait_ms"));
        return sb.toString();
    }

    @Test
    void aResumeWithOtherSettingsIsRefused() {
        Path out = tmp.resolve("refused");
        try (ActivationStore s = ActivationStore.open(store)) {
            trainer(6).outputTo(out).stopAfter(4).train(s);
            LoupeException e = assertThrows(
                    LoupeException.class, () -> trainer(7).outputTo(out).train(s));
            assertTrue(e.getMessage().contains("another training"), e.getMessage());
        }
    }

    @Test
    void nanActivationsAreNamedWithTheirStepAndRow() {
        INDArray x = Nd4j.randn(DataType.FLOAT, 500, 8);
        x.putScalar(321, 3, Float.NaN);
        LoupeException e =
                assertThrows(LoupeException.class, () -> new SaeTrainer(SaeTrainingConfig.of(20, 100, 1e-3, 0))
                        .add(SaeSpec.of("h", Architecture.TOPK, 16, 2).withBDecInit(SaeSpec.BDecInit.ZEROS))
                        .showProgress(false)
                        .train(x, "x.npy"));
        assertTrue(
                e.getMessage()
                        .matches("x\\.npy: the batch of step \\d+ has NaN activations \\(row \\d+ of the batch\\).*"),
                e.getMessage());
    }

    @Test
    void aDivergingRunStopsNamingTheStepAndTheLastGoodCheckpoint() {
        INDArray x = Nd4j.randn(DataType.FLOAT, 400, 8);
        x.getRow(250).muli(1e19f); // its squared error overflows float32
        Path out = tmp.resolve("diverged");
        LoupeException e = assertThrows(LoupeException.class, () -> new SaeTrainer(
                        SaeTrainingConfig.of(20, 100, 1e-3, 0).withCheckpointEvery(1))
                .add(SaeSpec.of("h", Architecture.STANDARD, 16, 0).withBDecInit(SaeSpec.BDecInit.ZEROS))
                .showProgress(false)
                .outputTo(out)
                .train(x, "x.npy"));
        assertTrue(e.getMessage().contains("diverged at step"), e.getMessage());
        assertTrue(
                e.getMessage().contains("The last good checkpoint is")
                        || e.getMessage().contains("No checkpoint"),
                e.getMessage());
    }

    @Test
    void badSpecsAreNamed() {
        LoupeException k = assertThrows(LoupeException.class, () -> SaeSpec.of("h", Architecture.TOPK, 16, 32));
        assertTrue(k.getMessage().contains("--k 32 is larger than --d-sae 16"), k.getMessage());
        try (ActivationStore s = ActivationStore.open(store)) {
            LoupeException hook =
                    assertThrows(LoupeException.class, () -> new SaeTrainer(SaeTrainingConfig.of(2, 10, 1e-3, 0))
                            .add(SaeSpec.of("blocks.0.hook_resid_pre", Architecture.TOPK, 16, 2))
                            .train(s));
            assertTrue(hook.getMessage().contains("blocks.0.hook_resid_pre"), hook.getMessage());
            assertTrue(hook.getMessage().contains(A), hook.getMessage());
        }
    }
}
