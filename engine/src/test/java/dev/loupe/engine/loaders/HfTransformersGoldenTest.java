package dev.loupe.engine.loaders;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.io.NpyReader;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.Tokens;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The arbiter: for each model variant in {@code ../shared/golden/hf-transformers} (saved by
 * transformers 5.18's {@code save_pretrained}, logits computed by transformers itself in float32),
 * Loupe's logits on the same token ids within 1e-4 — from the folder as saved (transformers 5's
 * config keys) and from the same folder with its config rewritten the way transformers 4.x wrote it.
 * Skipped where {@code ../shared} is absent.
 */
class HfTransformersGoldenTest {
    /** The reference folders, or null where ../shared is absent. */
    static final Path GOLDEN = dev.loupe.engine.SharedData.root() == null
            ? null
            : dev.loupe.engine.SharedData.root().resolve("golden/hf-transformers");

    static final List<String> VARIANTS = List.of(
            "gpt2",
            "gpt2_bf16",
            "gpt_neox",
            "gpt_neox_seq",
            "llama",
            "llama3",
            "mistral",
            "qwen2",
            "qwen3",
            "gemma",
            "gemma2",
            "gemma3",
            "phi3",
            "olmo2");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, Double> MAX_DIFF = new ConcurrentSkipListMap<>();

    @TempDir
    Path tmp;

    static Stream<Arguments> cases() {
        return VARIANTS.stream().flatMap(v -> Stream.of(Arguments.of(v, "transformers 5"), Arguments.of(v, "4.x")));
    }

    @ParameterizedTest(name = "{0}, {1} config")
    @MethodSource("cases")
    void logitsMatchTransformers(String variant, String style) throws IOException {
        assumeTrue(GOLDEN != null && Files.isDirectory(GOLDEN), "../shared/golden/hf-transformers is absent: skipping");
        Path folder = GOLDEN.resolve(variant);
        if (style.equals("4.x")) folder = asTransformers4(folder, tmp.resolve(variant));
        HookedTransformer model = HuggingFaceModel.load(folder);
        INDArray want = NpyReader.read(GOLDEN.resolve(variant + ".logits.npy")).castTo(DataType.DOUBLE);
        INDArray got = model.run(Tokens.of(tokens(variant))).castTo(DataType.DOUBLE);
        got = got.reshape(got.size(1), got.size(2));
        assertArrayEquals(want.shape(), got.shape(), variant);
        double diff = Transforms.abs(got.sub(want)).maxNumber().doubleValue();
        MAX_DIFF.put(String.format(Locale.ROOT, "%-13s %-14s", variant, style), diff);
        assertTrue(diff <= 1e-4, variant + " (" + style + " config): max |logit diff| " + diff + " > 1e-4");
    }

    @AfterAll
    static void report() {
        MAX_DIFF.forEach((k, v) -> System.out.printf(Locale.ROOT, "hf-transformers %s max |logit diff| %.2e%n", k, v));
    }

    static int[] tokens(String variant) throws IOException {
        String text = Files.readString(GOLDEN.resolve(variant + ".tokens.txt")).strip();
        return Arrays.stream(text.split("\\s+")).mapToInt(Integer::parseInt).toArray();
    }

    /**
     * The folder with its config as transformers 4.x wrote it: top-level {@code rope_theta} and
     * {@code rope_scaling} instead of {@code rope_parameters} (GPT-NeoX: {@code rotary_emb_base},
     * {@code rotary_pct}; Gemma 3: {@code rope_local_base_freq}, {@code sliding_window_pattern}),
     * {@code torch_dtype} instead of {@code dtype}, and no {@code layer_types}. The weights are linked.
     */
    static Path asTransformers4(Path folder, Path into) throws IOException {
        Files.createDirectories(into);
        ObjectNode c = (ObjectNode) JSON.readTree(folder.resolve("config.json").toFile());
        String type = c.path("model_type").asText();
        if (c.has("dtype")) c.set("torch_dtype", c.remove("dtype"));
        c.remove("layer_types");
        if (c.has("_sliding_window_pattern")) c.set("sliding_window_pattern", c.remove("_sliding_window_pattern"));
        JsonNode rope = c.remove("rope_parameters");
        if (rope != null && type.equals("gemma3_text")) {
            c.set("rope_theta", rope.path("full_attention").get("rope_theta"));
            c.set("rope_local_base_freq", rope.path("sliding_attention").get("rope_theta"));
        } else if (rope != null) {
            boolean neox = type.equals("gpt_neox");
            c.set(neox ? "rotary_emb_base" : "rope_theta", rope.get("rope_theta"));
            if (rope.has("partial_rotary_factor"))
                c.set(neox ? "rotary_pct" : "partial_rotary_factor", rope.get("partial_rotary_factor"));
            if (!rope.path("rope_type").asText("default").equals("default")) {
                ObjectNode scaling = ((ObjectNode) rope).deepCopy();
                scaling.remove(List.of("rope_theta", "partial_rotary_factor"));
                c.set("rope_scaling", scaling);
            }
        }
        Files.writeString(
                into.resolve("config.json"),
                JSON.writerWithDefaultPrettyPrinter().writeValueAsString(c));
        Files.createSymbolicLink(
                into.resolve("model.safetensors"),
                folder.resolve("model.safetensors").toAbsolutePath());
        return into;
    }
}
