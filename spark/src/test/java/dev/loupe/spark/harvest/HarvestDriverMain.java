package dev.loupe.spark.harvest;

import dev.loupe.spark.SparkContexts;
import dev.loupe.store.Fixtures;
import dev.loupe.store.corpus.Corpus;
import dev.loupe.store.harvest.Harvester;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;

/** A driver process for SparkHarvestTest to kill: harvests corpus args[1] into args[2] on master args[0]. */
public final class HarvestDriverMain {
    private HarvestDriverMain() {}

    public static void main(String[] args) {
        JavaSparkContext sc = SparkContexts.start(args[0], "loupe driver to kill", Map.of("spark.ui.enabled", "false"));
        Corpus corpus = Corpus.of(List.of(Path.of(args[1])), null, "text", Corpus.TextDocs.LINES);
        SparkHarvest.run(
                sc,
                Fixtures.smallModel(),
                "small",
                corpus,
                null,
                SparkHarvestTest.CFG,
                Path.of(args[2]),
                Harvester.ProgressFactory.silent());
        sc.stop();
    }
}
