package dev.loupe.saes.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.saes.Normalization;
import dev.loupe.saes.Sae;
import dev.loupe.saes.io.SaeJson;
import dev.loupe.saes.io.SaeLensFolder;
import dev.loupe.store.read.ActivationStore;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Trains SAEs the way SAELens's {@code SAETrainer} does, from activations streamed out of an
 * {@link ActivationStore} (or an array in memory), several SAEs from one pass:
 * <pre>{@code
 * SaeTrainingRun run = new SaeTrainer(SaeTrainingConfig.of(2000, 4096, 3e-4, 0))
 *         .add(SaeSpec.of("blocks.0.hook_resid_post", Architecture.TOPK, 2048, 32))
 *         .add(SaeSpec.of("blocks.0.hook_resid_post", Architecture.TOPK, 4096, 16))   // same rows, another width
 *         .add(SaeSpec.of("blocks.1.hook_resid_post", Architecture.JUMPRELU, 2048, 0)) // another hook, same pass
 *         .outputTo(Path.of("saes/"))
 *         .train(store);
 * }</pre>
 * Each step takes one batch per hook (the hooks' shuffled streams share their seed, so they give the same
 * rows), and for every SAE: its loss and gradients, clipping at norm 1, Adam at this step's learning rate,
 * the coefficient warm-ups, and the latent statistics (dead latents feed TopK's AuxK loss).
 *
 * <p><b>Before the first step</b>, for {@code expected_average_only_in}, the scaling factor
 * {@code sqrt(d_in) / E||x||} (E||x|| from the store's statistics) and b_dec from a sample of rows (its
 * mean or geometric median). <b>After the last</b>, the inference SAEs (scaling factor folded in) are
 * written as SAELens folders: the output folder itself for one SAE, {@code <out>/<name>/} for several.
 *
 * <p><b>Checkpoints</b> ({@link SaeCheckpoint}) every {@code checkpointEvery} steps and at the end; running
 * the same training into the same folder resumes from the newest, replaying the activation order, and
 * computes bit for bit what an uninterrupted run computes. A non-finite loss, gradient norm or input
 * stops the run before any weight is updated, naming the step and the last good checkpoint.
 */
public final class SaeTrainer {
    private final SaeTrainingConfig config;
    private final List<SaeSpec> specs = new ArrayList<>();
    private Path out;
    private boolean progress = true;
    private int stopAfter = -1;
    private StepListener listener = (step, row) -> {};

    /** Told after every step (live plots in a notebook). */
    @FunctionalInterface
    public interface StepListener {
        void stepDone(int step, Map<String, Double> row);
    }

    public SaeTrainer(SaeTrainingConfig config) {
        this.config = config;
    }

    public SaeTrainer add(SaeSpec spec) {
        for (SaeSpec s : specs)
            if (s.name().equals(spec.name()))
                throw new LoupeException(
                        "two SAEs are named '" + spec.name() + "'; give them names (SaeSpec.withName)");
        specs.add(spec);
        return this;
    }

    /** Checkpoints, the trained SAEs and {@code history.csv} go to {@code dir}; a run there resumes. */
    public SaeTrainer outputTo(Path dir) {
        this.out = dir;
        return this;
    }

    public SaeTrainer showProgress(boolean on) {
        this.progress = on;
        return this;
    }

    public SaeTrainer onStep(StepListener l) {
        this.listener = l;
        return this;
    }

    /** Stops (after a checkpoint) once {@code step} steps are done, as if the process had been killed there. */
    public SaeTrainer stopAfter(int step) {
        this.stopAfter = step;
        return this;
    }

    /** Trains on the store's hooks (one shuffled stream per hook, same seed). */
    public SaeTrainingRun train(ActivationStore store) {
        Map<String, ActivationSource> sources = new LinkedHashMap<>();
        try {
            for (SaeSpec s : specs)
                if (!sources.containsKey(s.hook())) {
                    store.d(s.hook()); // an unknown hook is an error naming the stored ones
                    sources.put(
                            s.hook(),
                            new StoreSource(
                                    store,
                                    s.hook(),
                                    config.batchSize(),
                                    config.shuffleBufferRows(),
                                    config.seed(),
                                    config.steps()));
                }
            Map<String, Object> meta = new LinkedHashMap<>();
            meta.put("model_name", store.manifest().model().id());
            meta.put("context_size", store.manifest().contextSize());
            meta.put("prepend_bos", store.manifest().corpus().beginBatchToken() != null);
            meta.put("dataset_path", store.dir().toAbsolutePath().toString());
            return train(sources, meta);
        } finally {
            sources.values().forEach(ActivationSource::close);
        }
    }

    /** Trains every SAE (whatever its hook) on the rows of {@code x} [rows, d_in]. */
    public SaeTrainingRun train(INDArray x, String name) {
        Map<String, ActivationSource> sources = new LinkedHashMap<>();
        for (SaeSpec s : specs)
            sources.putIfAbsent(s.hook(), new ArraySource(x, name, config.batchSize(), config.seed()));
        return train(sources, Map.of("dataset_path", name));
    }

    /** Trains with a source per hook; {@code metadata} goes into every SAE's cfg.json (model_name, context_size...). */
    public SaeTrainingRun train(Map<String, ActivationSource> sources, Map<String, Object> metadata) {
        if (specs.isEmpty()) throw new LoupeException("SAE trainer: no SAE to train (add a SaeSpec)");
        List<SaeSpec> all = List.copyOf(specs);
        List<String> hooks = new ArrayList<>(
                new LinkedHashSet<>(all.stream().map(SaeSpec::hook).toList()));
        for (String h : hooks)
            if (!sources.containsKey(h))
                throw new LoupeException(
                        "SAE trainer: no activations for hook '" + h + "' (have " + sources.keySet() + ")");
        JsonNode configJson = SaeJson.MAPPER.valueToTree(config), specsJson = SaeJson.MAPPER.valueToTree(all);

        List<SaeLearner> parts = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
            SaeSpec spec = all.get(i);
            parts.add(new SaeLearner(
                    TrainingSae.create(spec, sources.get(spec.hook()).d(), initSeed(config.seed(), i)), config));
        }
        List<Map<String, Double>> history = new ArrayList<>();
        int start = 0;
        Optional<Path> resumeFrom = out == null ? Optional.empty() : SaeCheckpoint.latest(out);
        if (resumeFrom.isPresent()) {
            Path dir = resumeFrom.get();
            SaeCheckpoint.State state = SaeCheckpoint.readState(dir);
            List<String> differences = new ArrayList<>();
            differences(state.config(), configJson, "config", differences);
            differences(state.specs(), specsJson, "SAEs", differences);
            if (!differences.isEmpty())
                throw new LoupeException(dir + ": this checkpoint is of another training; resume with the same settings"
                        + " or use another output folder. Differences (checkpoint vs requested): "
                        + String.join("; ", differences));
            for (int i = 0; i < parts.size(); i++) {
                SaeLearner part = parts.get(i);
                part.scalingFactor(state.scalingFactors().get(i));
                SaeCheckpoint.restore(
                        dir, part, state.adamSteps().get(i), state.rowsSeen().get(i));
                part.sae().restoreExtraState(state.extra().get(i));
            }
            start = state.step();
            history.addAll(state.history());
            for (String h : hooks) sources.get(h).skip(start); // the same batches an uninterrupted run takes next
        } else {
            for (int i = 0; i < parts.size(); i++)
                initialize(parts.get(i), sources.get(all.get(i).hook()));
        }

        int end = stopAfter >= 0 ? Math.min(stopAfter, config.steps()) : config.steps();
        Path lastGood = resumeFrom.orElse(null);
        double waitSeconds = 0, stepSeconds = 0;
        try (ProgressBar bar =
                progress ? ProgressBar.onStderr("sae train", start, config.steps(), "steps") : ProgressBar.silent()) {
            for (int step = start; step < end; step++) {
                long t0 = System.nanoTime();
                Map<String, INDArray> batches = new LinkedHashMap<>();
                for (String h : hooks) batches.put(h, checkedBatch(sources.get(h), step));
                long t1 = System.nanoTime();
                Map<String, Double> row = new LinkedHashMap<>();
                row.put("step", (double) (step + 1));
                row.put("lr", config.learningRate(step));
                row.put("wait_ms", (t1 - t0) / 1e6);
                for (SaeLearner part : parts) {
                    SaeLearner.Result r =
                            part.step(batches.get(part.sae().spec().hook()), step, config, lastGood);
                    part.record(r, config, parts.size() > 1 ? part.sae().spec().name() + "/" : "", row);
                }
                batches.values().forEach(b -> {
                    if (b.closeable()) b.close();
                });
                history.add(row);
                long t2 = System.nanoTime();
                waitSeconds += (t1 - t0) / 1e9;
                stepSeconds += (t2 - t0) / 1e9;
                if (out != null
                        && (step + 1 == end
                                || (config.checkpointEvery() > 0 && (step + 1) % config.checkpointEvery() == 0)))
                    lastGood = SaeCheckpoint.save(out, step + 1, configJson, specsJson, parts, history);
                bar.update(step + 1, status(row, parts));
                listener.stepDone(step + 1, row);
            }
        }
        List<Sae> saes = new ArrayList<>();
        List<double[]> densities = new ArrayList<>();
        for (SaeLearner part : parts) {
            SaeSpec spec = part.sae().spec();
            Map<String, Object> meta = new LinkedHashMap<>(metadata);
            meta.put("hook_name", spec.hook());
            meta.putIfAbsent("hook_head_index", null);
            meta.put(
                    "loupe_training",
                    Map.of(
                            "steps",
                            config.steps(),
                            "batch_size",
                            config.batchSize(),
                            "lr",
                            config.lr(),
                            "architecture",
                            spec.architecture().saeLensName()));
            Sae sae = part.sae().toInference(part.scalingFactor(), meta);
            saes.add(sae);
            double[] density = part.stats().density();
            densities.add(density);
            if (out != null && end == config.steps()) {
                Path dir = all.size() == 1 ? out : out.resolve(spec.name());
                INDArray logSparsity = Nd4j.createFromArray(density).addi(1e-10);
                SaeLensFolder.write(
                        sae,
                        dir,
                        org.nd4j.linalg.ops.transforms.Transforms.log(logSparsity, false)
                                .divi(Math.log(10)));
            }
        }
        SaeTrainingRun run = new SaeTrainingRun(saes, densities, List.copyOf(history), waitSeconds, stepSeconds);
        if (out != null && end == config.steps()) run.saveHistory(out.resolve("history.csv"));
        return run;
    }

    /** Scaling factor and b_dec before the first step. */
    private void initialize(SaeLearner part, ActivationSource source) {
        SaeSpec spec = part.sae().spec();
        double scale = 1;
        if (spec.normalizeActivations() == Normalization.EXPECTED_AVERAGE_ONLY_IN) {
            double meanNorm = source.meanNorm();
            if (!(meanNorm > 0) || !Double.isFinite(meanNorm))
                throw new LoupeException(source.describe() + ": the mean norm of the activations is " + meanNorm
                        + "; expected_average_only_in needs a positive, finite one");
            scale = Math.sqrt(source.d()) / meanNorm; // SAELens's ActivationScaler
        }
        if (spec.bDecInit() != SaeSpec.BDecInit.ZEROS) {
            INDArray sample = source.sample(config.initRows());
            requireFinite(sample, source, "the sample that initialises b_dec");
            if (scale != 1) sample.muli(scale);
            INDArray b = spec.bDecInit() == SaeSpec.BDecInit.MEAN ? sample.mean(0) : GeometricMedian.of(sample);
            part.sae().params().get("b_dec").assign(b);
        }
        part.scalingFactor(scale);
    }

    private static INDArray checkedBatch(ActivationSource source, int step) {
        INDArray b = source.next();
        requireFinite(b, source, "the batch of step " + (step + 1));
        return b;
    }

    /** One sum tells whether all values are finite; only a bad batch is searched for the row. */
    private static void requireFinite(INDArray b, ActivationSource source, String what) {
        if (Double.isFinite(b.sumNumber().doubleValue())) return;
        long rows = b.size(0);
        for (long r = 0; r < rows; r++) {
            double s = b.getRow(r).sumNumber().doubleValue();
            if (!Double.isFinite(s))
                throw new LoupeException(
                        source.describe() + ": " + what + " has " + (Double.isNaN(s) ? "NaN" : "infinite")
                                + " activations (row " + r + " of the batch); the SAE cannot train on them");
        }
        throw new LoupeException(
                source.describe() + ": " + what + " sums to a non-finite value (activations too large)");
    }

    private static String status(Map<String, Double> row, List<SaeLearner> parts) {
        String p = parts.size() > 1 ? parts.get(0).sae().spec().name() + "/" : "";
        String s = String.format(
                Locale.ROOT,
                "loss %.4g  L0 %.1f  dead %.1f%%",
                row.get(p + "loss"),
                row.get(p + "l0"),
                100 * row.get(p + "dead_fraction"));
        return parts.size() > 1 ? s + "  (+" + (parts.size() - 1) + " SAEs)" : s;
    }

    /** Where two JSON trees differ, by path (numbers compared by value: 5 and 5L are the same). */
    private static void differences(JsonNode saved, JsonNode wanted, String path, List<String> out) {
        if (saved.isContainerNode() && wanted.isContainerNode() && saved.isArray() == wanted.isArray()) {
            if (saved.isArray() && saved.size() != wanted.size()) {
                out.add(path + ": " + saved.size() + " vs " + wanted.size() + " entries");
                return;
            }
            if (saved.isArray()) {
                for (int i = 0; i < saved.size(); i++)
                    differences(saved.get(i), wanted.get(i), path + "[" + i + "]", out);
                return;
            }
            java.util.Set<String> keys = new LinkedHashSet<>();
            saved.fieldNames().forEachRemaining(keys::add);
            wanted.fieldNames().forEachRemaining(keys::add);
            for (String k : keys) differences(saved.path(k), wanted.path(k), path + "." + k, out);
            return;
        }
        boolean same = saved.isNumber() && wanted.isNumber()
                ? saved.decimalValue().compareTo(wanted.decimalValue()) == 0
                : saved.equals(wanted);
        if (!same) out.add(path + ": " + saved + " vs " + wanted);
    }

    /** A well-mixed seed per (run seed, SAE index) (SplitMix64's finaliser). */
    static long initSeed(long seed, int index) {
        long z = seed * 0x9E3779B97F4A7C15L + index + 1;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
