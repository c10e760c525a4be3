package dev.loupe.saes.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.AtomicFileWriter;
import dev.loupe.engine.io.SafetensorsReader;
import dev.loupe.engine.io.SafetensorsWriter;
import dev.loupe.saes.Architecture;
import dev.loupe.saes.Normalization;
import dev.loupe.saes.Sae;
import dev.loupe.saes.SaeConfig;
import dev.loupe.saes.Saes;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * SAELens's folder format, both ways: {@code cfg.json} (the config, as SAELens 6's
 * {@code SAE.save_model} writes it) and {@code sae_weights.safetensors} (tensors {@code W_enc} [d_in,
 * d_sae], {@code b_enc}, {@code W_dec} [d_sae, d_in], {@code b_dec}; JumpReLU adds {@code threshold},
 * gated has {@code b_gate}, {@code b_mag}, {@code r_mag} instead of {@code b_enc}), optionally with
 * {@code sparsity.safetensors} ({@code sparsity}: log10 feature density).
 *
 * <p>Reading follows SAELens's {@code sae_lens_disk_loader} and {@code handle_config_defaulting}:
 * configs older than SAELens 6 (no {@code sae_lens_version}) get the old key names renamed
 * ({@code hook_point}→{@code hook_name}...) and SAELens's defaults (architecture standard,
 * {@code apply_b_dec_to_input} true, topk from {@code activation_fn_kwargs.k}). One difference: a
 * topk config without {@code k} is an error here, where SAELens would silently use 100.
 */
public final class SaeLensFolder {
    public static final String CONFIG = "cfg.json",
            WEIGHTS = "sae_weights.safetensors",
            SPARSITY = "sparsity.safetensors";

    /** The SAELens version whose format Loupe writes (and followed when reading). */
    public static final String SAE_LENS_VERSION = "6.18.0";

    /** SAELens's {@code LLM_METADATA_KEYS}: what an old config's top level contributes to {@code metadata}. */
    private static final Set<String> METADATA_KEYS = Set.of(
            "model_name",
            "hook_name",
            "model_class_name",
            "hook_head_index",
            "model_from_pretrained_kwargs",
            "prepend_bos",
            "exclude_special_tokens",
            "neuronpedia_id",
            "context_size",
            "seqpos_slice",
            "dataset_path",
            "sae_lens_version",
            "sae_lens_training_version",
            "hook_name_out",
            "hook_head_index_out");

    private SaeLensFolder() {}

    /** Reads the SAE in {@code dir} (cfg.json + sae_weights.safetensors). */
    public static Sae read(Path dir) {
        if (!Files.isDirectory(dir))
            throw new LoupeException(
                    dir + ": not a folder (an SAELens SAE is a folder with " + CONFIG + " and " + WEIGHTS + ")");
        SaeConfig config = readConfig(dir.resolve(CONFIG));
        Path weights = dir.resolve(WEIGHTS);
        if (!Files.isRegularFile(weights)) throw new LoupeException(weights + ": missing (the SAE's weights)");
        Map<String, INDArray> tensors = new LinkedHashMap<>();
        try (SafetensorsReader r = SafetensorsReader.open(weights)) {
            for (String name : r.names()) tensors.put(name, r.readFloat(name));
        }
        dropUnitScalingFactor(tensors, weights);
        return Saes.create(config, tensors, weights.toString());
    }

    /**
     * Older SAELens files may hold {@code scaling_factor}; SAELens drops it when it is all ones and
     * otherwise needs {@code finetuning_scaling_factor}, which Loupe does not implement.
     */
    private static void dropUnitScalingFactor(Map<String, INDArray> tensors, Path file) {
        INDArray s = tensors.get("scaling_factor");
        if (s == null) return;
        if (s.sub(1).amaxNumber().doubleValue() != 0)
            throw new LoupeException(file + ": tensor 'scaling_factor' is not all ones: this SAE needs SAELens's"
                    + " finetuning_scaling_factor, which Loupe does not support");
        tensors.remove("scaling_factor");
    }

    /** Reads and checks a {@code cfg.json}; errors name the file and the key. */
    public static SaeConfig readConfig(Path file) {
        JsonNode root;
        try {
            root = SaeJson.MAPPER.readTree(Files.readString(file, StandardCharsets.UTF_8));
        } catch (java.nio.file.NoSuchFileException e) {
            throw new LoupeException(file + ": missing (an SAELens SAE folder has " + CONFIG + ")");
        } catch (IOException e) {
            throw new LoupeException(file + ": not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) throw new LoupeException(file + ": expected a JSON object");
        ObjectNode cfg = ((ObjectNode) root).deepCopy();
        String version = text(cfg.get("sae_lens_version"));
        if (version == null && cfg.get("metadata") != null)
            version = text(cfg.get("metadata").get("sae_lens_version"));
        if (version == null || majorVersion(version) < 6) cfg = pre6(cfg);
        String where = file.toString();
        Architecture arch =
                Architecture.parse(requiredText(cfg, "architecture", where), where + ": key 'architecture'");
        if (arch == Architecture.BATCHTOPK)
            throw new LoupeException(
                    where + ": architecture 'batchtopk' is SAELens's training form; a trained BatchTopK"
                            + " SAE is saved as 'jumprelu' (SAE.save_inference_model)");
        int dIn = requiredInt(cfg, "d_in", where), dSae = requiredInt(cfg, "d_sae", where);
        int k = 0;
        if (arch == Architecture.TOPK) {
            k = requiredInt(cfg, "k", where);
            if (k < 1 || k > dSae)
                throw new LoupeException(where + ": key 'k' is " + k + "; a topk SAE needs 1 <= k <= d_sae = " + dSae);
        }
        String dtype = cfg.hasNonNull("dtype") ? text(cfg.get("dtype")) : "float32";
        if (dtype != null && dtype.startsWith("torch.")) dtype = dtype.substring(6);
        if (!SaeConfig.DTYPES.contains(dtype))
            throw new LoupeException(where + ": key 'dtype' is '" + dtype + "'; expected one of " + SaeConfig.DTYPES);
        boolean applyBDec = bool(cfg, "apply_b_dec_to_input", true, where);
        Normalization norm = Normalization.parse(
                cfg.hasNonNull("normalize_activations") ? text(cfg.get("normalize_activations")) : "none",
                where + ": key 'normalize_activations'");
        String reshape = cfg.hasNonNull("reshape_activations") ? text(cfg.get("reshape_activations")) : "none";
        if (!reshape.equals("none") && !reshape.equals("hook_z"))
            throw new LoupeException(
                    where + ": key 'reshape_activations' must be 'none' or 'hook_z', got '" + reshape + "'");
        boolean rescale = arch == Architecture.TOPK && bool(cfg, "rescale_acts_by_decoder_norm", false, where);
        Map<String, Object> metadata = new LinkedHashMap<>();
        JsonNode meta = cfg.get("metadata");
        if (meta != null && !meta.isNull()) {
            if (!meta.isObject()) throw new LoupeException(where + ": key 'metadata' must be an object");
            meta.fields().forEachRemaining(e -> metadata.put(e.getKey(), toJava(e.getValue())));
        }
        // Configs written for readers of the pre-6 layout carry hook_name at the top level too.
        if (!metadata.containsKey("hook_name") && cfg.hasNonNull("hook_name"))
            metadata.put("hook_name", text(cfg.get("hook_name")));
        return new SaeConfig(arch, dIn, dSae, dtype, applyBDec, norm, reshape, k, rescale, metadata);
    }

    /** SAELens's {@code handle_pre_6_0_config}: old key names, defaults, topk from activation_fn_kwargs. */
    private static ObjectNode pre6(ObjectNode old) {
        ObjectNode cfg = SaeJson.MAPPER.createObjectNode();
        old.fields().forEachRemaining(e -> {
            String key =
                    switch (e.getKey()) {
                        case "hook_point" -> "hook_name";
                        case "hook_point_head_index" -> "hook_head_index";
                        case "activation_fn_str" -> "activation_fn";
                        default -> e.getKey();
                    };
            cfg.set(key, e.getValue());
        });
        if (!cfg.has("apply_b_dec_to_input")) cfg.put("apply_b_dec_to_input", true);
        if (!cfg.has("architecture")) cfg.put("architecture", "standard");
        if (!cfg.has("reshape_activations"))
            cfg.put(
                    "reshape_activations",
                    cfg.hasNonNull("hook_name") && text(cfg.get("hook_name")).contains("hook_z") ? "hook_z" : "none");
        JsonNode kwargs = cfg.get("activation_fn_kwargs");
        if ("topk".equals(text(cfg.get("activation_fn"))) && kwargs != null && kwargs.hasNonNull("k")) {
            cfg.put("architecture", "topk");
            cfg.set("k", kwargs.get("k"));
        }
        JsonNode norm = cfg.get("normalize_activations");
        if (norm != null && norm.isBoolean())
            cfg.put("normalize_activations", norm.asBoolean() ? "expected_average_only_in" : "none");
        if (norm == null || norm.isNull()) cfg.put("normalize_activations", "none");
        ObjectNode metadata = SaeJson.MAPPER.createObjectNode();
        cfg.fields().forEachRemaining(e -> {
            if (METADATA_KEYS.contains(e.getKey())) metadata.set(e.getKey(), e.getValue());
        });
        cfg.set("metadata", metadata);
        return cfg;
    }

    /** Writes {@code sae} into {@code dir} as SAELens 6 does (files replaced atomically, weights first). */
    public static void write(Sae sae, Path dir) {
        write(sae, dir, null);
    }

    /** Also writes {@code sparsity.safetensors} when {@code logSparsity} ([d_sae], log10 feature density) is given. */
    public static void write(Sae sae, Path dir, INDArray logSparsity) {
        SaeConfig c = sae.config();
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new LoupeException(dir + ": cannot create the folder: " + e, e);
        }
        DataType type =
                switch (c.dtype()) {
                    case "float64" -> DataType.DOUBLE;
                    case "float16" -> DataType.HALF;
                    case "bfloat16" -> DataType.BFLOAT16;
                    default -> DataType.FLOAT;
                };
        Map<String, INDArray> tensors = new LinkedHashMap<>();
        sae.stateDict().forEach((name, a) -> tensors.put(name, a.dataType() == type ? a : a.castTo(type)));
        SafetensorsWriter.write(dir.resolve(WEIGHTS), tensors, Map.of());
        if (logSparsity != null)
            SafetensorsWriter.write(
                    dir.resolve(SPARSITY), Map.of("sparsity", logSparsity.castTo(DataType.FLOAT)), Map.of());
        byte[] json = configJson(c).getBytes(StandardCharsets.UTF_8);
        AtomicFileWriter.write(dir.resolve(CONFIG), ch -> ch.write(ByteBuffer.wrap(json)));
    }

    /** {@code cfg.json} as SAELens 6's {@code SAEConfig.to_dict()}, plus {@code hook_name} at the top for older readers. */
    public static String configJson(SaeConfig c) {
        ObjectNode o = SaeJson.MAPPER.createObjectNode();
        o.put("d_in", c.dIn());
        o.put("d_sae", c.dSae());
        o.put("dtype", c.dtype());
        o.put("device", "cpu");
        o.put("apply_b_dec_to_input", c.applyBDecToInput());
        o.put("normalize_activations", c.normalizeActivations().saeLensName());
        o.put("reshape_activations", c.reshapeActivations());
        Map<String, Object> meta = new LinkedHashMap<>(c.metadata());
        meta.putIfAbsent("sae_lens_version", SAE_LENS_VERSION);
        o.set("metadata", SaeJson.MAPPER.valueToTree(meta));
        if (c.architecture() == Architecture.TOPK) {
            o.put("k", c.k());
            o.put("rescale_acts_by_decoder_norm", c.rescaleActsByDecoderNorm());
        }
        o.put("architecture", c.architecture().saeLensName());
        if (c.hookName() != null) o.put("hook_name", c.hookName());
        try {
            return SaeJson.MAPPER.writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new LoupeException("cannot encode cfg.json: " + e.getMessage(), e);
        }
    }

    private static int majorVersion(String v) {
        int i = 0;
        while (i < v.length() && Character.isDigit(v.charAt(i))) i++;
        return i == 0 ? 0 : Integer.parseInt(v.substring(0, i));
    }

    private static String text(JsonNode n) {
        return n == null || n.isNull() ? null : n.asText();
    }

    private static String requiredText(ObjectNode cfg, String key, String where) {
        JsonNode n = cfg.get(key);
        if (n == null || n.isNull()) throw new LoupeException(where + ": missing key '" + key + "'");
        if (!n.isTextual()) throw new LoupeException(where + ": key '" + key + "' must be a string, got " + n);
        return n.asText();
    }

    private static int requiredInt(ObjectNode cfg, String key, String where) {
        JsonNode n = cfg.get(key);
        if (n == null || n.isNull()) throw new LoupeException(where + ": missing key '" + key + "'");
        if (!n.canConvertToInt() || !(n.isIntegralNumber() || (n.isNumber() && n.asDouble() == n.asInt())))
            throw new LoupeException(where + ": key '" + key + "' must be an integer, got " + n);
        return n.asInt();
    }

    private static boolean bool(ObjectNode cfg, String key, boolean dflt, String where) {
        JsonNode n = cfg.get(key);
        if (n == null || n.isNull()) return dflt;
        if (!n.isBoolean()) throw new LoupeException(where + ": key '" + key + "' must be true or false, got " + n);
        return n.asBoolean();
    }

    private static Object toJava(JsonNode n) {
        return SaeJson.MAPPER.convertValue(n, Object.class);
    }
}
