package dev.loupe.spark.stats;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.AtomicFileWriter;
import dev.loupe.engine.io.Json;
import dev.loupe.saes.dashboard.FeatureDashboard;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The feature statistics job's output folder:
 * <pre>
 * feature-stats.json     the header: store, hook, encoder, rows, settings, and per feature its density,
 *                        mean and max activation (for a density histogram without reading the rest)
 * features-00000.json    a JSON array of {@link FeatureDashboard} (the dashboards' layout), features 0..1023
 * features-00001.json    features 1024..2047, ...
 * </pre>
 * Every file is written atomically; the header last, so a folder with a header is complete.
 */
public final class FeatureStatsFiles {
    public static final String HEADER = "feature-stats.json", FORMAT = "loupe-feature-stats";
    public static final int VERSION = 1, FEATURES_PER_FILE = 1024;

    private FeatureStatsFiles() {}

    /** The header of a statistics folder. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Header(
            String format,
            int version,
            String store,
            String hook,
            String encoder,
            int features,
            long rows,
            FeatureStatsConfig config,
            List<String> files,
            double[] density,
            double[] meanActivation,
            double[] maxActivation) {}

    /** Writes {@code stats} (every feature of the encoder, in order) into {@code dir}. */
    public static Header write(
            Path dir, Path store, FeatureEncoder encoder, FeatureStatsConfig cfg, List<FeatureDashboard> stats) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new LoupeException(dir + ": cannot create the folder: " + e.getMessage(), e);
        }
        int n = stats.size();
        List<String> files = new ArrayList<>();
        for (int from = 0; from < n; from += FEATURES_PER_FILE) {
            String name = String.format("features-%05d.json", from / FEATURES_PER_FILE);
            write(dir.resolve(name), stats.subList(from, Math.min(n, from + FEATURES_PER_FILE)));
            files.add(name);
        }
        Header h = new Header(
                FORMAT,
                VERSION,
                store.toAbsolutePath().normalize().toString(),
                encoder.hook(),
                encoder.describe(),
                n,
                n == 0 ? 0 : stats.get(0).rowsSeen(),
                cfg,
                files,
                stats.stream().mapToDouble(FeatureDashboard::density).toArray(),
                stats.stream().mapToDouble(FeatureDashboard::meanActivation).toArray(),
                stats.stream().mapToDouble(FeatureDashboard::maxActivation).toArray());
        write(dir.resolve(HEADER), h);
        return h;
    }

    private static void write(Path file, Object value) {
        byte[] json;
        try {
            json = Json.mapper().writeValueAsBytes(value);
        } catch (IOException e) {
            throw new LoupeException(file + ": cannot encode: " + e.getMessage(), e);
        }
        AtomicFileWriter.write(file, ch -> {
            ByteBuffer b = ByteBuffer.wrap(json);
            while (b.hasRemaining()) ch.write(b);
        });
    }

    /** Reads a folder's header, checking its format. */
    public static Header header(Path dir) {
        Header h = read(dir.resolve(HEADER), Header.class);
        if (!FORMAT.equals(h.format()) || h.version() != VERSION)
            throw new LoupeException(dir.resolve(HEADER) + ": not " + FORMAT + " version " + VERSION + " (format "
                    + h.format() + ", version " + h.version() + ")");
        return h;
    }

    /** One feature's statistics (reads the file that holds it). */
    public static FeatureDashboard feature(Path dir, int feature) {
        Header h = header(dir);
        if (feature < 0 || feature >= h.features())
            throw new LoupeException(dir + ": feature " + feature + " is outside 0.." + (h.features() - 1));
        FeatureDashboard[] block =
                read(dir.resolve(h.files().get(feature / FEATURES_PER_FILE)), FeatureDashboard[].class);
        return Arrays.asList(block).get(feature % FEATURES_PER_FILE);
    }

    private static <T> T read(Path file, Class<T> type) {
        try {
            return Json.mapper().readValue(file.toFile(), type);
        } catch (IOException e) {
            throw new LoupeException(
                    file + ": cannot read: "
                            + e.getMessage().lines().findFirst().orElse(""),
                    e);
        }
    }
}
