package dev.loupe.spark;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.loaders.ModelLoader;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.engine.tokenizer.Tokenizers;
import dev.loupe.saes.Sae;
import dev.loupe.saes.io.SaeLensFolder;
import dev.loupe.saes.io.SaeSource;
import dev.loupe.spark.harvest.HarvestPlan;
import dev.loupe.store.StoreManifest;
import dev.loupe.store.harvest.Harvester;
import dev.loupe.store.read.ActivationStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * What an executor's JVM loads once and keeps for all the tasks it runs: the model, checked against
 * the driver's (config hash and weights checksum), the tokenizer, SAEs, and stores opened for reading. Tasks running at the same time
 * wait for the one load (it is the slow part of a task's start: seconds for GPT-2, against
 * milliseconds for the rest).
 */
public final class ExecutorResources {
    private static final Map<String, HookedTransformer> MODELS = new HashMap<>();
    private static final Map<String, Tokenizer> TOKENIZERS = new HashMap<>();
    private static final Map<String, ActivationStore> STORES = new HashMap<>();
    private static final Map<String, LoadedSae> SAES = new HashMap<>();

    /** An SAE and the stamp of the folder it was read from. */
    private record LoadedSae(String stamp, Sae sae) {}

    private static int modelLoads;

    private ExecutorResources() {}

    private static String key(StoreManifest.ModelInfo m) {
        return m.configHash() + " " + m.weightsCrc32c();
    }

    /** The plan's model: loaded by the first task in this JVM, checked, then shared. */
    public static synchronized HookedTransformer model(HarvestPlan plan, String where) {
        StoreManifest.ModelInfo want = plan.spec().model();
        HookedTransformer m = MODELS.get(key(want));
        if (m != null) return m;
        String source =
                plan.modelPath() != null && Files.exists(Path.of(plan.modelPath())) ? plan.modelPath() : plan.modelId();
        m = ModelLoader.load(source);
        modelLoads++;
        StoreManifest.ModelInfo got = Harvester.modelInfo(m, plan.modelId());
        if (!key(got).equals(key(want)))
            throw new LoupeException(where + ": the model loaded from " + source + " is not the driver's (config hash "
                    + got.configHash() + ", weights crc32c " + got.weightsCrc32c() + "; the driver's: "
                    + want.configHash() + ", " + want.weightsCrc32c()
                    + "). Every node must see the same model files.");
        MODELS.put(key(want), m);
        return m;
    }

    /** Lets the driver's JVM use the model it loaded when it runs tasks itself (local masters). */
    public static synchronized void offer(HookedTransformer model, StoreManifest.ModelInfo info) {
        MODELS.putIfAbsent(key(info), model);
    }

    /** How many times this JVM loaded a model for tasks. */
    public static synchronized int modelLoads() {
        return modelLoads;
    }

    /** The plan's tokenizer (null for .npy corpora), loaded once per path. */
    public static synchronized Tokenizer tokenizer(HarvestPlan plan) {
        String path = plan.spec().corpus().tokenizer();
        if (path == null) return null;
        return TOKENIZERS.computeIfAbsent(path, p -> Tokenizers.load(Path.of(p)));
    }

    /**
     * The store in {@code dir}, opened (and checked, {@code Verify.FAST}) once per JVM; reads from it are
     * thread-safe. Reopened when its manifest changed (a store harvested again).
     */
    public static synchronized ActivationStore store(String dir) {
        ActivationStore s = STORES.get(dir);
        if (s != null && s.manifest().equals(dev.loupe.store.StoreManifest.read(Path.of(dir)))) return s;
        if (s != null) s.close();
        s = ActivationStore.open(Path.of(dir));
        STORES.put(dir, s);
        return s;
    }

    /**
     * The SAE at {@code source} ({@link SaeSource#load}: a folder, {@code hf:...} or a zoo name), read
     * once per JVM, and again when the folder's files changed (an SAE trained again into it); its
     * {@code encode} is safe to call from several tasks at once.
     */
    public static synchronized Sae sae(String source) {
        String stamp = folderStamp(source);
        LoadedSae s = SAES.get(source);
        if (s == null || !s.stamp().equals(stamp)) {
            s = new LoadedSae(stamp, SaeSource.load(source));
            SAES.put(source, s);
        }
        return s.sae();
    }

    /** Sizes and modification times of an SAE folder's files ("" for hub and zoo SAEs). */
    private static String folderStamp(String source) {
        Path dir = Path.of(source);
        if (!Files.isDirectory(dir)) return "";
        StringBuilder b = new StringBuilder();
        for (String f : new String[] {SaeLensFolder.CONFIG, SaeLensFolder.WEIGHTS})
            try {
                Path p = dir.resolve(f);
                b.append(Files.size(p))
                        .append('@')
                        .append(Files.getLastModifiedTime(p))
                        .append(' ');
            } catch (java.io.IOException e) {
                b.append("- "); // SaeSource.load names what is missing
            }
        return b.toString();
    }
}
