package dev.loupe.cli.store;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.spark.harvest.SparkHarvest;
import dev.loupe.store.corpus.Corpus;
import dev.loupe.store.harvest.HarvestConfig;
import dev.loupe.store.harvest.Harvester;
import java.nio.file.Path;
import java.util.Map;

/**
 * {@code ./loupe harvest --spark MASTER}: the harvest on a Spark cluster. Kept apart from
 * {@link HarvestCommand} so that Spark's classes are loaded only when asked for: Spark is not on the
 * command line's classpath, the launcher adds it for this option.
 */
final class SparkHarvestCommand {
    private SparkHarvestCommand() {}

    static int run(
            String master,
            Map<String, String> conf,
            HookedTransformer model,
            String modelId,
            Corpus corpus,
            String tokenizerName,
            HarvestConfig cfg,
            Path out,
            Harvester.ProgressFactory progress) {
        try {
            Class.forName("org.apache.spark.SparkConf", false, SparkHarvestCommand.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new LoupeException("harvest --spark: Spark is not on the classpath; run it through ./loupe "
                    + "(which adds spark/target/spark-classpath.txt), or spark-submit (docs/scale-out.md)");
        }
        SparkHarvest.Result r =
                SparkHarvest.run(master, conf, model, modelId, corpus, tokenizerName, cfg, out, progress);
        HarvestCommand.report(
                out,
                r.harvest(),
                String.format(
                        " on Spark: %d shard tasks on %d executor(s)%s",
                        r.tasks(),
                        r.executors().size(),
                        r.adoptedCopies() == 0
                                ? ""
                                : ", " + r.adoptedCopies() + " shards computed twice (retries, speculation)"
                                        + (r.differingCopies() == 0
                                                ? ", same bytes"
                                                : "; " + r.differingCopies()
                                                        + " copies differed: executors compute differently")));
        return 0;
    }
}
