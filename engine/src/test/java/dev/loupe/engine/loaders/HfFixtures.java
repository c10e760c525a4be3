package dev.loupe.engine.loaders;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.engine.io.NpyReader;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.Tokens;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The Hugging Face model folders under {@code src/test/resources/dev/loupe/hf}, written by
 * {@code reference_models.py} (which also computed their logits with an independent PyTorch
 * forward pass), and helpers around them.
 */
final class HfFixtures {
    static final String PYTHON = "/usr/bin/python3";
    /** Every case reference_models.py writes. */
    static final List<String> CASES = List.of(
            "gpt2",
            "pythia",
            "gpt_neox_sequential_f16",
            "llama",
            "llama3_bf16",
            "mistral_bf16",
            "qwen2_f16",
            "gemma2_bf16");

    private HfFixtures() {}

    static Path root() {
        URL url = HfFixtures.class.getResource("/dev/loupe/hf/reference_models.py");
        if (url == null) throw new IllegalStateException("test resources dev/loupe/hf are missing");
        try {
            return Path.of(url.toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Path folder(String name) {
        return root().resolve(name);
    }

    /** A writable copy of a fixture folder, for tests that break it. */
    static Path copy(String name, Path into) {
        Path dst = into.resolve(name);
        try (Stream<Path> files = Files.list(folder(name))) {
            Files.createDirectories(dst);
            for (Path f : files.toList())
                Files.copy(f, dst.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dst;
    }

    static Tokens tokens(Path folder) {
        try {
            return Tokens.of(
                    new ObjectMapper().readValue(folder.resolve("tokens.json").toFile(), int[][].class));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** max |Loupe's logits - the reference logits| for the folder's tokens. */
    static double maxLogitDiff(HookedTransformer model, Path folder) {
        INDArray want = NpyReader.read(folder.resolve("logits.npy")).castTo(DataType.DOUBLE);
        INDArray got = model.run(tokens(folder)).castTo(DataType.DOUBLE);
        if (!java.util.Arrays.equals(want.shape(), got.shape()))
            throw new AssertionError("logits shape " + java.util.Arrays.toString(got.shape()) + ", reference "
                    + java.util.Arrays.toString(want.shape()));
        return Transforms.abs(got.sub(want)).maxNumber().doubleValue();
    }

    /** Whether {@code /usr/bin/python3} can import torch and numpy. */
    static boolean torchAvailable() {
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

    /** Runs reference_models.py into {@code out}; returns its output. */
    static String regenerate(Path out) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(
                        PYTHON, root().resolve("reference_models.py").toString(), out.toString())
                .redirectErrorStream(true)
                .start();
        String text = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("reference_models.py timed out");
        }
        if (p.exitValue() != 0) throw new AssertionError("reference_models.py failed:\n" + text);
        return text;
    }
}
