package dev.loupe.cli.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.cli.CliRun;
import dev.loupe.cli.Main;
import dev.loupe.engine.LoupeException;
import dev.loupe.store.Fixtures;
import dev.loupe.store.StoreDType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ./loupe store export --format ...} and {@code ./loupe store bench-export}, in-process. */
class StoreExportCommandTest {
    @TempDir
    Path tmp;

    private Path store(StoreDType dtype) {
        return Fixtures.harvest( // 20 sequences of 16
                tmp.resolve("store-" + dtype.label()),
                Fixtures.tokenCorpus(tmp, 300, 97, 5),
                List.of("resid_post0", "resid_post1"),
                dtype);
    }

    private static List<String> names(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void exportsEachFormatIntoANewFolder() throws Exception {
        Path store = store(StoreDType.F16);
        String s = tmp.toString();
        String saelens = CliRun.output(
                "store", "export", store.toString(), "--format", "saelens", "--out", s + "/saelens", "--keep-dtype");
        assertEquals(
                List.of("data-00000-of-00001.arrow", "dataset_info.json", "state.json"), names(tmp.resolve("saelens")));
        assertTrue(saelens.contains("saelens export, 3 files") && saelens.contains("(float16)"), saelens);
        assertTrue(Files.readString(tmp.resolve("saelens/dataset_info.json")).contains("\"float16\""));

        String parquet = CliRun.output(
                "store",
                "export",
                store.toString(),
                "--format",
                "parquet",
                "--out",
                s + "/parquet",
                "--rows",
                "tokens",
                "--hooks",
                "blocks.1.hook_resid_post",
                "--shard-mb",
                "0.02"); // 20 sequences of at most 2324 bytes: 3 files
        assertEquals(
                List.of("part-00000-of-00003.parquet", "part-00001-of-00003.parquet", "part-00002-of-00003.parquet"),
                names(tmp.resolve("parquet")));
        assertTrue(parquet.contains("(float32)"), parquet);

        String npy = CliRun.output("store", "export", store.toString(), "--out", s + "/npy");
        assertEquals(
                List.of(
                        "blocks.0.hook_resid_post.npy",
                        "blocks.1.hook_resid_post.npy",
                        "position.npy",
                        "sequence.npy",
                        "tokens.npy"),
                names(tmp.resolve("npy")));
        assertTrue(npy.contains("npy export, 5 files"), npy);
    }

    @Test
    void badOptionsAreNamed() {
        Path store = store(StoreDType.F32);
        String s = tmp.toString();
        LoupeException format = assertThrows(
                LoupeException.class,
                () -> Main.run(
                        new String[] {"store", "export", store.toString(), "--format", "csv", "--out", s + "/x"}));
        assertTrue(
                format.getMessage().contains("--format 'csv': expected npy, saelens or parquet"), format.getMessage());
        LoupeException rows = assertThrows(
                LoupeException.class,
                () -> Main.run(new String[] {
                    "store", "export", store.toString(), "--format", "parquet", "--rows", "words", "--out", s + "/x"
                }));
        assertTrue(rows.getMessage().contains("--rows 'words': expected sequences or tokens"), rows.getMessage());
        LoupeException hook = assertThrows(
                LoupeException.class,
                () -> Main.run(new String[] {
                    "store",
                    "export",
                    store.toString(),
                    "--format",
                    "parquet",
                    "--hooks",
                    "resid_post9",
                    "--out",
                    s + "/x"
                }));
        assertTrue(hook.getMessage().contains("unknown hook in this store 'resid_post9'"), hook.getMessage());
        assertFalse(Files.exists(tmp.resolve("x")));
        LoupeException bench = assertThrows(
                LoupeException.class, () -> Main.run(new String[] {"store", "bench-export", "--format", "npy"}));
        assertTrue(bench.getMessage().contains("--format must be saelens or parquet"), bench.getMessage());
    }

    /** A tiny run of the benchmark: every export in its own JVM, the last line the ratio. */
    @Test
    void benchExportReportsTheRatioToTheNpyExport() {
        String out = CliRun.output(
                "store",
                "bench-export",
                "--format",
                "parquet",
                "--store-gb",
                "0.002",
                "--d",
                "64",
                "--context",
                "16",
                "--rounds",
                "1",
                "--heap-mb",
                "128");
        String last = out.strip().lines().reduce((a, b) -> b).orElse("");
        assertTrue(last.startsWith("format=parquet rows=sequences store_gb=0.00 dtype=f32 heap_mb=128"), out);
        assertTrue(last.matches(".* ratio_vs_npy=\\d+\\.\\d{3}"), out);
    }
}
