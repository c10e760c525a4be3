package dev.loupe.spark;

import dev.loupe.engine.LoupeException;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * Starts the Spark context Loupe's jobs run in, with the settings they need whatever the master:
 * <ul>
 *   <li>executors get the launcher's allocator and OpenMP settings (see docs/architecture.md);</li>
 *   <li>on a cluster, executors get Loupe's jars from the driver ({@code spark.jars}: the list in
 *       {@code -Dloupe.spark.jars}, which {@code ./loupe} sets; under {@code spark-submit} the
 *       application jar is shipped by Spark itself);</li>
 *   <li>Spark's console progress is off: Loupe's jobs show their own progress bar.</li>
 * </ul>
 * {@code settings} ({@code --spark-conf key=value}) come last and win.
 */
public final class SparkContexts {
    /** The master "default": whatever spark-submit or spark-defaults.conf set ({@code spark.master}). */
    public static final String DEFAULT_MASTER = "default";

    private SparkContexts() {}

    public static JavaSparkContext start(String master, String appName, Map<String, String> settings) {
        // Hadoop's notice that it has no native library is of no use here (slf4j-simple; before it starts)
        System.setProperty(
                "org.slf4j.simpleLogger.log.org.apache.hadoop.util.NativeCodeLoader",
                System.getProperty("org.slf4j.simpleLogger.log.org.apache.hadoop.util.NativeCodeLoader", "error"));
        SparkConf conf = new SparkConf().setAppName(appName);
        if (!master.equals(DEFAULT_MASTER)) conf.setMaster(master);
        else if (!conf.contains("spark.master"))
            throw new LoupeException("--spark default: no spark.master is configured (run under spark-submit, or "
                    + "give a master: local[N], spark://HOST:PORT, yarn, k8s://...)");
        conf.setIfMissing("spark.ui.showConsoleProgress", "false");
        conf.setIfMissing("spark.executorEnv.OMP_WAIT_POLICY", "PASSIVE");
        conf.setIfMissing("spark.executorEnv.MALLOC_MMAP_THRESHOLD_", "33554432");
        conf.setIfMissing("spark.executorEnv.MALLOC_TRIM_THRESHOLD_", "4294967296");
        String jars = System.getProperty("loupe.spark.jars");
        boolean local = conf.get("spark.master").startsWith("local");
        if (jars != null && !local && !conf.contains("spark.jars"))
            conf.set("spark.jars", jars.replace(java.io.File.pathSeparatorChar, ','));
        settings.forEach(conf::set);
        try {
            return new JavaSparkContext(conf);
        } catch (RuntimeException e) {
            throw new LoupeException(
                    "spark: cannot start a context on master " + conf.get("spark.master") + ": " + e.getMessage(), e);
        }
    }
}
