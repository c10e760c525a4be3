package dev.loupe.engine.loaders;

import dev.loupe.engine.io.Checkpoint;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.ModelConfig.Normalization;
import dev.loupe.engine.model.ModelConfig.Positional;
import dev.loupe.engine.model.ModelConfig.QkNorm;
import dev.loupe.engine.tokenizer.Tokenizers;
import dev.loupe.engine.zoo.Zoo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;

/**
 * What a model is, read without loading its weights: its format and family, its sizes, parameter
 * count, the dtype its weights are stored in, whether a tokenizer sits beside it, and how many hook
 * points it has. {@code ./loupe info --model M} prints {@link #toText()}, or the record as JSON.
 *
 * @param model       what was asked for: a path, a zoo name or a Hugging Face id
 * @param format      {@code "huggingface"}, {@code "loupe-checkpoint"}, {@code "llama2c"} or {@code "zoo"}
 * @param family      the Hugging Face {@code model_type} ({@code "llama"}, {@code "gemma3_text"}, ...), or
 *                    {@code "llama2c"}, or {@code "loupe"} for Loupe's own checkpoints and the zoo
 * @param architecture the Hugging Face {@code architectures} entry ({@code "LlamaForCausalLM"}), or null
 * @param config      the architecture as Loupe runs it
 * @param parameters  number of parameters (tied embeddings counted once)
 * @param storedDtype the dtypes of the weights on disk (e.g. {@code "BF16"}; several when mixed)
 * @param computeDtype what Loupe computes in ({@code "float32"}, or {@code "float64"})
 * @param tokenizer   the path of the tokenizer file found beside the model (for a zoo text model: that it is
 *                    embedded with it), or null
 * @param hookPoints  number of hook points ({@link HookedTransformer#hookNames(ModelConfig)})
 */
public record ModelSummary(
        String model,
        String format,
        String family,
        String architecture,
        ModelConfig config,
        long parameters,
        String storedDtype,
        String computeDtype,
        String tokenizer,
        int hookPoints) {

    /** The summary of a model folder or file, a zoo name, or a Hugging Face id (resolved like {@link ModelLoader#load}). */
    public static ModelSummary of(String pathOrId) {
        Path path = Path.of(pathOrId);
        if (!Files.exists(path) && Zoo.NAMES.contains(pathOrId)) {
            ModelConfig cfg = Zoo.load(pathOrId).config();
            // A zoo text model's tokenizer ships inside the jar with it: no path, but there is one.
            String tokenizer =
                    Zoo.hasTokenizer(pathOrId) ? "embedded with the model: Zoo.tokenizer(\"" + pathOrId + "\")" : null;
            return new ModelSummary(
                    pathOrId,
                    "zoo",
                    "loupe",
                    null,
                    cfg,
                    cfg.parameterCount(),
                    cfg.dtype().equals("float64") ? "F64" : "F32",
                    cfg.dtype(),
                    tokenizer,
                    HookedTransformer.hookNames(cfg).size());
        }
        path = ModelLoader.locate(pathOrId);
        if (ModelLoader.isLlama2c(path)) {
            ModelConfig cfg = Llama2cCheckpoint.readHeader(path).toModelConfig();
            return new ModelSummary(
                    pathOrId,
                    "llama2c",
                    "llama2c",
                    null,
                    cfg,
                    "F32",
                    Tokenizers.find(path.toAbsolutePath().getParent()));
        }
        if (Files.isDirectory(path) && Checkpoint.isCheckpoint(path)) {
            ModelConfig cfg = Checkpoint.readConfig(path);
            String stored = cfg.dtype().equals("float64") ? "F64" : "F32";
            return new ModelSummary(pathOrId, "loupe-checkpoint", "loupe", null, cfg, stored, Tokenizers.find(path));
        }
        if (Files.isDirectory(path) && HuggingFaceModel.isHuggingFaceFolder(path)) {
            HfConfig c = HfConfig.read(path.resolve(HuggingFaceModel.CONFIG));
            ModelConfig cfg = HuggingFaceModel.readConfig(path);
            var arch = c.optionalArray("architectures");
            String architecture = arch != null && !arch.isEmpty() ? arch.get(0).asText() : null;
            return new ModelSummary(
                    pathOrId,
                    "huggingface",
                    c.modelType(),
                    architecture,
                    cfg,
                    storedDtypes(path, c),
                    Tokenizers.find(path));
        }
        return new ModelSummary(pathOrId, "loupe-checkpoint", "loupe", null, Checkpoint.readConfig(path), "F32", null);
    }

    private ModelSummary(
            String model, String format, String family, String architecture, ModelConfig cfg, String stored, Path tok) {
        this(
                model,
                format,
                family,
                architecture,
                cfg,
                cfg.parameterCount(),
                stored,
                cfg.dtype(),
                tok == null ? null : tok.toString(),
                HookedTransformer.hookNames(cfg).size());
    }

    /** The dtypes of a folder's tensors from the safetensors headers, else the config's {@code dtype}. */
    private static String storedDtypes(Path dir, HfConfig c) {
        try (SafetensorsFolder src = SafetensorsFolder.open(dir)) {
            TreeSet<String> types = new TreeSet<>();
            for (String n : src.names()) types.add(src.info(n).dtype().name());
            return String.join(", ", types);
        } catch (RuntimeException noWeights) {
            String d = c.storedDtype();
            return d == null ? "unknown (no weights found)" : d + " (config; no weights found)";
        }
    }

    /** A few lines for people: what the model is and how it is built. */
    public String toText() {
        ModelConfig c = config;
        List<String> lines = new ArrayList<>();
        lines.add(row("model", model + " (" + format + ")"));
        lines.add(row("family", family + (architecture == null ? "" : " (" + architecture + ")")));
        lines.add(row("parameters", String.format(Locale.ROOT, "%,d", parameters)));
        String heads = c.nHeads() + " heads of " + c.dHead()
                + (c.nKvHeads() != c.nHeads() ? " (" + c.nKvHeads() + " key/value heads)" : "");
        lines.add(row(
                "dims",
                c.nLayers() + " layers, d_model " + c.dModel() + ", " + heads
                        + (c.attnOnly() ? ", attention only" : ", d_mlp " + c.dMlp()) + ", vocabulary "
                        + c.dVocab() + ", context " + c.nCtx()));
        lines.add(row("blocks", blocks(c)));
        lines.add(row("dtype", storedDtype + " on disk, " + computeDtype + " compute"));
        lines.add(row("tokenizer", tokenizer == null ? "none found (pass --tokenizer, or --tokens)" : tokenizer));
        lines.add(row("hook points", Integer.toString(hookPoints)));
        return String.join("\n", lines);
    }

    private static String row(String key, String value) {
        return String.format(Locale.ROOT, "%-12s %s", key, value);
    }

    private static String blocks(ModelConfig c) {
        List<String> parts = new ArrayList<>();
        String norm =
                switch (c.normalization()) {
                    case LAYER_NORM -> "LayerNorm";
                    case LAYER_NORM_PRE -> "LayerNorm (folded)";
                    case RMS_NORM -> "RMSNorm";
                    case RMS_NORM_PRE -> "RMSNorm (folded)";
                    case NONE -> "no norms";
                };
        if (c.normalization() != Normalization.NONE)
            norm += c.useNormalizationAfterOnly()
                    ? " after each sublayer"
                    : c.useNormalizationBeforeAndAfter() ? " before and after each sublayer" : "";
        parts.add(norm);
        if (c.parallelAttnMlp()) parts.add("parallel attention and MLP");
        if (c.positional() == Positional.ROTARY) {
            String rot = "rotary on " + c.rotaryDim() + "/" + c.dHead() + " dims, base " + number(c.rotaryBase());
            if (c.rotaryBaseLocal() != c.rotaryBase()) rot += " (local layers " + number(c.rotaryBaseLocal()) + ")";
            if (c.ropeScaling() != null)
                rot += ", Llama 3 scaling x" + number(c.ropeScaling().factor());
            parts.add(rot);
        } else parts.add(c.positional() == Positional.LEARNED ? "learned positions" : "no positions");
        if (c.qkNorm() != QkNorm.NONE)
            parts.add(c.qkNorm() == QkNorm.PER_HEAD ? "q/k norm per head" : "q/k norm over all heads");
        if (!c.attnOnly()) parts.add(c.activation().name());
        if (!c.localAttnLayers().isEmpty())
            parts.add("window " + c.windowSize() + " on " + c.localAttnLayers().size() + " of " + c.nLayers()
                    + " layers");
        if (c.attnScoresSoftCap() > 0) parts.add("score soft-cap " + number(c.attnScoresSoftCap()));
        if (c.outputLogitsSoftCap() > 0) parts.add("logit soft-cap " + number(c.outputLogitsSoftCap()));
        if (c.tiedEmbeddings()) parts.add("tied embeddings");
        return String.join(", ", parts);
    }

    private static String number(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }
}
