package dev.loupe.cli.sae;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.cli.CliRun;
import dev.loupe.cli.Main;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.NpyReader;
import dev.loupe.engine.io.NpyWriter;
import dev.loupe.saes.Architecture;
import dev.loupe.saes.PythonReference;
import dev.loupe.saes.Sae;
import dev.loupe.saes.TestSaes;
import dev.loupe.saes.io.SaeLensFolder;
import dev.loupe.saes.train.Synthetic;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** The sae commands as the checks call them. */
class SaeCommandsTest {
    @TempDir
    Path tmp;

    @Test
    void aTopKSaeTrainedByTheCommandRecoversTheDirectionsSyntheticDataWasMadeOf() {
        Synthetic data = new Synthetic(60_000, 64, 256, 4, 0.01, 1); // 256 unit directions in d = 64, ~4 a row
        Path x = tmp.resolve("x.npy"), out = tmp.resolve("sae");
        NpyWriter.write(x, data.rows);
        long t0 = System.nanoTime();
        String printed = CliRun.output(
                "sae",
                "train",
                "--x",
                x.toString(),
                "--arch",
                "topk",
                "--k",
                "4",
                "--d-sae",
                "512",
                "--steps",
                "700",
                "--batch",
                "1024",
                "--lr",
                "3e-3",
                "--seed",
                "0",
                "--out",
                out.toString(),
                "--quiet");
        Sae sae = SaeLensFolder.read(out);
        double score = data.recovery(sae.W_dec());
        System.out.printf(
                "recovery (mean best |cos|) %.4f in %.0f s; %s", score, (System.nanoTime() - t0) / 1e9, printed);
        assertTrue(score >= 0.95, "mean best |cos| with a decoder row is " + score);
        assertEquals(Architecture.TOPK, sae.config().architecture());
        assertTrue(Files.isRegularFile(out.resolve("history.csv")));
    }

    @Test
    void runMatchesThePyTorchReferenceOfSaeLensWithin1e5() throws Exception {
        assumeTrue(PythonReference.available(), PythonReference.PYTHON + " with torch and numpy is absent; skipping");
        Path x = tmp.resolve("x.npy");
        Nd4j.getRandom().setSeed(9);
        NpyWriter.write(x, Nd4j.randn(DataType.FLOAT, 40, 32));
        List<Object> make = new ArrayList<>(), run = new ArrayList<>();
        List<String> archs = List.of("standard", "topk", "jumprelu");
        int i = 0;
        for (String arch : archs)
            for (boolean apply : new boolean[] {true, false}) {
                Path dir = tmp.resolve("sae-" + i);
                Map<String, Object> cfg = arch.equals("topk")
                        ? Map.of("apply_b_dec_to_input", apply, "k", 6, "rescale_acts_by_decoder_norm", i % 2 == 0)
                        : Map.of("apply_b_dec_to_input", apply);
                make.add(List.of(dir.toString(), arch, 32, 96, 100 + i, cfg));
                run.add(List.of(dir.toString(), x.toString(), dir + "/f-ref.npy", dir + "/r-ref.npy"));
                i++;
            }
        ObjectMapper json = new ObjectMapper();
        Files.writeString(tmp.resolve("make.json"), json.writeValueAsString(make));
        Files.writeString(tmp.resolve("run.json"), json.writeValueAsString(run));
        PythonReference.run(tmp, "make", tmp.resolve("make.json").toString());
        PythonReference.run(tmp, "run", tmp.resolve("run.json").toString());
        for (int j = 0; j < i; j++) {
            Path dir = tmp.resolve("sae-" + j);
            CliRun.output(
                    "sae",
                    "run",
                    "--sae",
                    dir.toString(),
                    "--x",
                    x.toString(),
                    "--features",
                    dir + "/f.npy",
                    "--reconstruction",
                    dir + "/r.npy");
            double fd = diff(NpyReader.read(dir.resolve("f.npy")), NpyReader.read(dir.resolve("f-ref.npy"))),
                    rd = diff(NpyReader.read(dir.resolve("r.npy")), NpyReader.read(dir.resolve("r-ref.npy")));
            System.out.printf("sae run vs reference, %s: features %.2e, reconstructions %.2e%n", make.get(j), fd, rd);
            assertTrue(fd <= 1e-5 && rd <= 1e-5, make.get(j) + ": " + fd + " / " + rd);
            assertEquals(DataType.FLOAT, NpyReader.read(dir.resolve("f.npy")).dataType());
        }
    }

    static double diff(INDArray a, INDArray b) {
        assertArrayEquals(a.shape(), b.shape());
        return a.castTo(DataType.DOUBLE)
                .sub(b.castTo(DataType.DOUBLE))
                .amaxNumber()
                .doubleValue();
    }

    @Test
    void badInputIsNamed() throws Exception {
        Path dir = tmp.resolve("sae");
        SaeLensFolder.write(TestSaes.random(Architecture.TOPK, 16, 40, 4, "blocks.0.hook_resid_post", 1), dir);
        Path x = tmp.resolve("x.npy");
        NpyWriter.write(x, Nd4j.randn(DataType.FLOAT, 10, 12));
        String[] runArgs = {
            "sae",
            "run",
            "--sae",
            dir.toString(),
            "--x",
            x.toString(),
            "--features",
            tmp + "/f.npy",
            "--reconstruction",
            tmp + "/r.npy"
        };
        assertMessage(runArgs, x.toString(), "[n, 16]");
        // a missing tensor, then a missing key, then an unknown architecture
        Path weights = dir.resolve(SaeLensFolder.WEIGHTS);
        byte[] saved = Files.readAllBytes(weights);
        Map<String, INDArray> t =
                new java.util.LinkedHashMap<>(SaeLensFolder.read(dir).stateDict());
        t.remove("b_dec");
        dev.loupe.engine.io.SafetensorsWriter.write(weights, t, Map.of());
        NpyWriter.write(x, Nd4j.randn(DataType.FLOAT, 10, 16));
        assertMessage(runArgs, weights.toString(), "b_dec");
        Files.write(weights, saved);
        Path cfg = dir.resolve(SaeLensFolder.CONFIG);
        String config = Files.readString(cfg);
        Files.writeString(cfg, config.replace("\"d_sae\" : 40,", ""));
        assertMessage(runArgs, cfg.toString(), "missing key 'd_sae'");
        Files.writeString(cfg, config.replace("\"architecture\" : \"topk\"", "\"architecture\" : \"matryoshka\""));
        assertMessage(runArgs, cfg.toString(), "unknown SAE architecture 'matryoshka'");
        Files.writeString(cfg, config.replace("\"k\" : 4", "\"k\" : 41"));
        assertMessage(runArgs, cfg.toString(), "k' is 41");
        Files.writeString(cfg, config);
        // training: k > d_sae, an unknown architecture, NaN activations
        INDArray nan = Nd4j.randn(DataType.FLOAT, 300, 8);
        nan.putScalar(123, 4, Float.NaN);
        NpyWriter.write(x, nan);
        String[] train = {
            "sae",
            "train",
            "--x",
            x.toString(),
            "--arch",
            "topk",
            "--k",
            "70",
            "--d-sae",
            "64",
            "--steps",
            "3",
            "--batch",
            "100",
            "--out",
            tmp + "/t",
            "--quiet"
        };
        assertMessage(train, "--k 70 is larger than --d-sae 64");
        train[5] = "relux";
        assertMessage(train, "--arch: unknown SAE architecture 'relux'");
        train[5] = "topk";
        train[7] = "8";
        List<String> zeros = new ArrayList<>(List.of(train));
        zeros.addAll(List.of("--b-dec-init", "zeros"));
        assertMessage(zeros.toArray(String[]::new), x.toString(), "NaN activations");
    }

    private static void assertMessage(String[] argv, String... parts) {
        LoupeException e = assertThrows(LoupeException.class, () -> Main.run(argv));
        for (String p : parts) assertTrue(e.getMessage().contains(p), "'" + e.getMessage() + "' lacks '" + p + "'");
    }

    @Test
    void aTrainingKilledMidwayResumesToTheSameWeightsBitForBit() throws Exception {
        Synthetic data = new Synthetic(20_000, 32, 64, 3, 0.01, 2);
        Path x = tmp.resolve("x.npy");
        NpyWriter.write(x, data.rows);
        List<String> args = List.of(
                "sae",
                "train",
                "--x",
                x.toString(),
                "--arch",
                "topk",
                "--k",
                "3",
                "--d-sae",
                "128",
                "--steps",
                "60",
                "--batch",
                "256",
                "--lr",
                "2e-3",
                "--checkpoint-every",
                "5",
                "--dead-window",
                "10",
                "--quiet",
                "--out");
        CliRun.output(with(args, tmp.resolve("whole").toString()));
        Path killed = tmp.resolve("killed");
        Path log = tmp.resolve("child.log");
        Process p = CliRun.process(List.of(), with(args, killed.toString()))
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        Path checkpoints = killed.resolve("checkpoints");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
        while (p.isAlive() && System.nanoTime() < deadline && !hasCheckpointAfter(checkpoints, 10)) Thread.sleep(50);
        boolean wasRunning = p.isAlive();
        p.destroyForcibly().waitFor(); // kill -9: no shutdown hooks, no final checkpoint
        assertTrue(wasRunning, () -> "the child finished before it could be killed: " + read(log));
        assertTrue(!Files.exists(killed.resolve(SaeLensFolder.WEIGHTS)), "killed before the end");
        CliRun.output(with(args, killed.toString())); // the same command again resumes
        assertArrayEquals(
                Files.readAllBytes(tmp.resolve("whole").resolve(SaeLensFolder.WEIGHTS)),
                Files.readAllBytes(killed.resolve(SaeLensFolder.WEIGHTS)),
                "the resumed run's weights differ from the uninterrupted run's");
    }

    private static String read(Path f) {
        try {
            return Files.readString(f);
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }

    private static boolean hasCheckpointAfter(Path checkpoints, int step) {
        if (!Files.isDirectory(checkpoints)) return false;
        try (var s = Files.list(checkpoints)) {
            return s.anyMatch(d -> d.getFileName().toString().matches("step-\\d+")
                    && Integer.parseInt(d.getFileName().toString().substring(5)) >= step);
        } catch (java.io.IOException e) {
            return false;
        }
    }

    private static String[] with(List<String> args, String last) {
        List<String> all = new ArrayList<>(args);
        all.add(last);
        return all.toArray(String[]::new);
    }
}
