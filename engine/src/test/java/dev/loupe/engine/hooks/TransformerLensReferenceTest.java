package dev.loupe.engine.hooks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.engine.SharedData;
import dev.loupe.engine.io.NpyReader;
import dev.loupe.engine.io.NpyWriter;
import dev.loupe.engine.loaders.HuggingFaceModel;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Tokens;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Loupe's norm hooks against TransformerLens's: {@code tl_reference.py} is TransformerLens's forward
 * pass written from its component code in PyTorch (float64), run on the same unprocessed weights (a
 * GPT-2 and a Llama from {@code ../shared/golden/hf-transformers}, exported in TransformerLens's
 * names and shapes). Every {@code hook_scale} and {@code hook_normalized} (and {@code unembed.hook_in})
 * must agree; the reference's logits must agree with transformers' own, so the reference is checked
 * too. Skipped without ../shared or without {@code /usr/bin/python3} with torch and numpy.
 */
class TransformerLensReferenceTest {
    private static final String PYTHON = System.getenv().getOrDefault("LOUPE_PYTHON", "/usr/bin/python3");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "llama"})
    void normHooksAreTransformerLensHooks(String variant) throws Exception {
        Path golden = SharedData.root() == null ? null : SharedData.root().resolve("golden/hf-transformers");
        assumeTrue(golden != null && Files.isDirectory(golden.resolve(variant)), "../shared is absent: skipping");
        assumeTrue(torchAvailable(), PYTHON + " with torch and numpy is not available: skipping");
        HookedTransformer model = HuggingFaceModel.load(golden.resolve(variant)); // unprocessed, as loaded
        ModelConfig c = model.config();
        int[] all = Arrays.stream(Files.readString(golden.resolve(variant + ".tokens.txt"))
                        .strip()
                        .split("\\s+"))
                .mapToInt(Integer::parseInt)
                .toArray();
        int[][] tokens = {Arrays.copyOf(all, 16), Arrays.copyOfRange(all, 16, 32)};

        // the reference's inputs: config, tokens, weights in TransformerLens's names and shapes
        Files.createDirectories(tmp.resolve("weights"));
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("normalization", c.normalization() == ModelConfig.Normalization.LAYER_NORM ? "LN" : "RMS");
        cfg.put("n_layers", c.nLayers());
        cfg.put("n_heads", c.nHeads());
        cfg.put("n_kv_heads", c.nKvHeads());
        cfg.put("d_head", c.dHead());
        cfg.put("eps", c.normEps());
        cfg.put("rotary", c.positional() == ModelConfig.Positional.ROTARY);
        cfg.put("rotary_dim", c.rotaryDim());
        cfg.put("rotary_base", c.rotaryBase());
        cfg.put("gated", c.activation().gated());
        JSON.writeValue(tmp.resolve("config.json").toFile(), cfg);
        NpyWriter.write(tmp.resolve("tokens.npy"), Nd4j.createFromArray(tokens).castTo(DataType.LONG));
        model.stateDict().forEach((name, a) -> NpyWriter.write(tmp.resolve("weights/" + name + ".npy"), a.dup('c')));
        runReference();

        Path out = tmp.resolve("out");
        INDArray logits = NpyReader.read(out.resolve("logits.npy"));
        INDArray want = NpyReader.read(golden.resolve(variant + ".logits.npy")).castTo(DataType.DOUBLE);
        double refVsTransformers = maxDiff(logits.get(point(0)).reshape(16, c.dVocab()), want.get(range(0, 16)));
        assertTrue(refVsTransformers < 1e-4, "the reference's logits against transformers': " + refVsTransformers);

        ActivationCache cache = model.runWithCache(
                        Tokens.of(tokens),
                        ActivationFilter.matching(n -> n.contains("hook_scale")
                                || n.contains("hook_normalized")
                                || n.equals("unembed.hook_in")))
                .cache();
        int compared = 0;
        try (Stream<Path> files = Files.list(out)) {
            for (Path f : files.toList()) {
                String name = f.getFileName().toString().replace(".npy", "");
                if (name.equals("logits")) continue;
                INDArray ref = NpyReader.read(f), got = cache.get(name).castTo(DataType.DOUBLE);
                assertArrayEquals(ref.shape(), got.shape(), name);
                double diff = maxDiff(ref, got), size = ref.amaxNumber().doubleValue();
                assertTrue(diff <= 1e-5 * Math.max(1, size), variant + " " + name + ": max |diff| " + diff);
                compared++;
            }
        }
        assertEquals(4 * c.nLayers() + 3, compared, "every norm hook and unembed.hook_in");
    }

    private static org.nd4j.linalg.indexing.INDArrayIndex point(long i) {
        return org.nd4j.linalg.indexing.NDArrayIndex.point(i);
    }

    private static org.nd4j.linalg.indexing.INDArrayIndex range(long from, long to) {
        return org.nd4j.linalg.indexing.NDArrayIndex.interval(from, to);
    }

    private static double maxDiff(INDArray a, INDArray b) {
        return Transforms.abs(a.castTo(DataType.DOUBLE).sub(b.castTo(DataType.DOUBLE)))
                .maxNumber()
                .doubleValue();
    }

    private void runReference() throws IOException, InterruptedException, URISyntaxException {
        Path script = Path.of(TransformerLensReferenceTest.class
                .getResource("tl_reference.py")
                .toURI());
        Process p = new ProcessBuilder(PYTHON, script.toString(), tmp.toString())
                .redirectErrorStream(true)
                .start();
        String output = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "tl_reference.py timed out");
        assertEquals(0, p.exitValue(), "tl_reference.py failed:\n" + output);
    }

    private static boolean torchAvailable() {
        if (!Files.isExecutable(Path.of(PYTHON))) return false;
        try {
            Process p = new ProcessBuilder(PYTHON, "-c", "import torch, numpy")
                    .redirectErrorStream(true)
                    .start();
            p.getInputStream().readAllBytes();
            return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
