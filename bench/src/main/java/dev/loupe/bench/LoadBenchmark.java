package dev.loupe.bench;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.loaders.HuggingFaceLlamaWriter;
import dev.loupe.engine.loaders.ModelLoader;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * {@code ./loupe bench load}: writes a random GPT-2-small-sized checkpoint as a Hugging Face folder
 * (llama layout, 124M parameters, weights stored as bf16/f16/f32), then loads it in a fresh JVM and
 * reports load time and that JVM's peak resident memory against the float32 size of the weights.
 */
public final class LoadBenchmark {
    private LoadBenchmark() {}

    /** GPT-2 small's size in the llama layout: SwiGLU's three matrices of 2048 match GPT-2's two of 3072. */
    static ModelConfig gpt2SmallSized() {
        return ModelConfig.builder()
                .dModel(768)
                .nLayers(12)
                .nHeads(12)
                .dMlp(2048)
                .dVocab(50257)
                .nCtx(1024)
                .normalization(ModelConfig.Normalization.RMS_NORM)
                .positional(ModelConfig.Positional.ROTARY)
                .activation(ModelConfig.Activation.SILU_GATED)
                .biases(ModelConfig.Biases.none())
                .tiedEmbeddings(true)
                .build();
    }

    /** Writes the checkpoint with weights stored as {@code dtype} (bf16, f16 or f32) and measures its loading. */
    public static void run(String dtype) {
        DataType storage =
                switch (dtype) {
                    case "bf16" -> DataType.BFLOAT16;
                    case "f16" -> DataType.HALF;
                    case "f32" -> DataType.FLOAT;
                    default -> throw new LoupeException(
                            "bench load: --dtype must be bf16, f16 or f32, got '" + dtype + "'");
                };
        ModelConfig cfg = gpt2SmallSized();
        Path dir;
        try {
            dir = Files.createTempDirectory("loupe-bench-load");
        } catch (IOException e) {
            throw new LoupeException("bench load: cannot create a temporary folder: " + e.getMessage());
        }
        try {
            System.err.println("writing a random " + String.format(Locale.ROOT, "%,d", cfg.parameterCount())
                    + "-parameter checkpoint as " + dtype + " to " + dir + " ...");
            HuggingFaceLlamaWriter.write(HookedTransformer.random(cfg, 0), dir, storage);
            long fileBytes = Files.size(dir.resolve(HuggingFaceLlamaWriter.WEIGHTS));
            long f32 = cfg.parameterCount() * 4;
            List<String> cmd = new ArrayList<>(List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx2g",
                    "-cp",
                    System.getProperty("java.class.path"),
                    LoadBenchmark.class.getName(),
                    dir.toString()));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            if (p.waitFor() != 0) throw new LoupeException("bench load: the loading JVM failed:\n" + out);
            String[] f = out.lines()
                    .filter(l -> l.startsWith("RESULT "))
                    .findFirst()
                    .orElseThrow(() -> new LoupeException("bench load: no result from the loading JVM:\n" + out))
                    .split(" ");
            double seconds = Double.parseDouble(f[1]);
            long baseline = Long.parseLong(f[2]), peak = Long.parseLong(f[3]);
            System.out.printf(
                    Locale.ROOT,
                    "file: %.1f MB (%s); weights in float32: %.1f MB%n",
                    fileBytes / 1e6,
                    dtype,
                    f32 / 1e6);
            System.out.printf(Locale.ROOT, "load time: %.2f s%n", seconds);
            System.out.printf(
                    Locale.ROOT,
                    "peak RSS: %.1f MB; before loading: %.1f MB; growth: %.1f MB = %.2f x the float32 size%n",
                    peak / 1e6,
                    baseline / 1e6,
                    (peak - baseline) / 1e6,
                    (double) (peak - baseline) / f32);
        } catch (IOException e) {
            throw new LoupeException("bench load: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LoupeException("bench load: interrupted");
        } finally {
            dev.loupe.engine.io.Folders.deleteTree(dir);
        }
    }

    /** The loading JVM: prints "RESULT seconds baselineRss peakRss". */
    public static void main(String[] args) {
        org.nd4j.linalg.factory.Nd4j.create(1); // ND4J's own start-up belongs to the baseline
        long baseline = ForwardBenchmark.currentRssBytes();
        long t0 = System.nanoTime();
        HookedTransformer m = ModelLoader.load(args[0]);
        double seconds = (System.nanoTime() - t0) / 1e9;
        System.out.println("RESULT " + seconds + " " + baseline + " " + ForwardBenchmark.peakRssBytes() + " "
                + m.config().nLayers());
    }
}
