package dev.loupe.store.export;

import static dev.loupe.store.export.ExportFixtures.CONTEXT;
import static dev.loupe.store.export.ExportFixtures.RESID;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loupe.store.StoreDType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The exports read by the readers they are for, where a machine has them (each test is skipped
 * otherwise): Hugging Face {@code datasets} and pyarrow, pandas, DuckDB and polars in Python
 * ({@code LOUPE_PYTHON}, default /usr/bin/python3), and two independent implementations from npm,
 * Apache Arrow JS and DuckDB ({@code LOUPE_NODE_MODULES}: a node_modules folder with
 * {@code apache-arrow} and {@code @duckdb/node-api}). Every value is compared with the .npy export.
 */
class OtherReadersTest {
    @TempDir
    Path tmp;

    static String python() {
        String p = System.getenv("LOUPE_PYTHON");
        return p == null || p.isBlank() ? "/usr/bin/python3" : p;
    }

    static boolean runs(List<String> cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor() == 0;
        } catch (Exception e) {
            return false;
        }
    }

    /** Runs a script; its last line is JSON. */
    static JsonNode run(List<String> cmd, Path script, String text, String... args) throws Exception {
        Files.writeString(script, text);
        List<String> all = new ArrayList<>(cmd);
        all.add(script.toString());
        all.addAll(List.of(args));
        Process p = new ProcessBuilder(all).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        assertEquals(0, p.waitFor(), out);
        return PythonJson.parse(out.lines().reduce((a, b) -> b).orElse(""));
    }

    private Path[] exports() {
        Path store = ExportFixtures.store(StoreDType.F32);
        Path npy = tmp.resolve("npy"), saelens = tmp.resolve("saelens");
        Path parquet = tmp.resolve("parquet"), tokens = tmp.resolve("tokens");
        ExportFixtures.export(store, npy, ExportFormat.NPY, ExportOptions.defaults());
        ExportFixtures.export(
                store, saelens, ExportFormat.SAELENS, ExportOptions.defaults().withShardBytes(50_000));
        ExportFixtures.export(
                store, parquet, ExportFormat.PARQUET, ExportOptions.defaults().withShardBytes(80_000));
        ExportFixtures.export(
                store, tokens, ExportFormat.PARQUET, ExportOptions.defaults().withRows(ExportOptions.Rows.TOKENS));
        return new Path[] {npy, saelens, parquet, tokens};
    }

    static final String PYTHON =
            """
            import glob, json, sys
            import numpy as np
            import pyarrow.parquet as pq
            import pandas as pd
            from datasets import Array2D, load_dataset, load_from_disk

            npy, saelens, parquet, tokens, hook = sys.argv[1:6]
            context, d = int(sys.argv[6]), int(sys.argv[7])
            x = np.load(f"{npy}/{hook}.npy")
            ids = np.load(f"{npy}/tokens.npy")
            n = len(ids) // context
            res = {}

            # SAELens's ActivationsStore.load_cached_activation_dataset: load_from_disk, torch/numpy format, shape check
            ds = load_from_disk(saelens)
            f = ds.features
            res["array2d"] = isinstance(f[hook], Array2D) and tuple(f[hook].shape) == (context, d) and f[hook].dtype == "float32"
            res["token_ids"] = f["token_ids"].length == context and f["token_ids"].feature.dtype == "int32"
            ds.set_format(type="numpy", columns=[hook, "token_ids"])
            rows = ds[0:len(ds)]
            res["rows"] = len(ds)
            res["saelens_equal"] = bool(np.array_equal(rows[hook].reshape(n * context, d), x))
            res["saelens_tokens_equal"] = bool(np.array_equal(rows["token_ids"].reshape(-1), ids))

            t = pq.read_table(parquet)
            col = t.column(hook).combine_chunks()
            res["pyarrow_type"] = str(col.type)
            res["pyarrow_equal"] = bool(np.array_equal(col.flatten().flatten().to_numpy().reshape(n * context, d), x))

            dp = load_dataset("parquet", data_files=sorted(glob.glob(f"{parquet}/*.parquet")), split="train")
            fh = dp.features[hook]
            res["parquet_features"] = fh.length == context and fh.feature.length == d and fh.feature.feature.dtype == "float32"
            res["parquet_datasets_equal"] = bool(np.array_equal(
                np.asarray(dp[0:len(dp)][hook], dtype=np.float32).reshape(n * context, d), x))

            df = pd.read_parquet(tokens)
            res["pandas_equal"] = bool(np.array_equal(np.stack(df[hook].to_numpy()), x)) and len(df) == n * context
            try:
                import duckdb
                res["duckdb_rows"] = duckdb.sql(f"SELECT count(*) FROM '{tokens}/*.parquet'").fetchone()[0]
            except ImportError:
                pass
            try:
                import polars as pl
                res["polars_rows"] = pl.read_parquet(f"{tokens}/*.parquet").height
            except ImportError:
                pass
            print(json.dumps(res))
            """;

    @Test
    void datasetsPyarrowAndPandasReadTheExports() throws Exception {
        assumeTrue(
                runs(List.of(python(), "-c", "import datasets, pyarrow, pandas, numpy")),
                python() + " lacks datasets/pyarrow/pandas (set LOUPE_PYTHON to a Python that has them); skipping");
        Path[] e = exports();
        JsonNode r = run(
                List.of(python()),
                tmp.resolve("check.py"),
                PYTHON,
                e[0].toString(),
                e[1].toString(),
                e[2].toString(),
                e[3].toString(),
                RESID,
                Integer.toString(CONTEXT),
                "32");
        for (String k : List.of(
                "array2d",
                "token_ids",
                "saelens_equal",
                "saelens_tokens_equal",
                "pyarrow_equal",
                "parquet_features",
                "parquet_datasets_equal",
                "pandas_equal")) assertEquals(true, r.path(k).asBoolean(), k + " in " + r);
        assertEquals(ExportFixtures.SEQUENCES, r.get("rows").asInt());
        assertEquals(
                "fixed_size_list<element: fixed_size_list<element: float>[32]>[16]",
                r.get("pyarrow_type").asText());
        if (r.has("duckdb_rows"))
            assertEquals(
                    ExportFixtures.SEQUENCES * CONTEXT, r.get("duckdb_rows").asInt());
        if (r.has("polars_rows"))
            assertEquals(
                    ExportFixtures.SEQUENCES * CONTEXT, r.get("polars_rows").asInt());
    }

    static final String NODE =
            """
            const fs = require('fs');
            const { tableFromIPC } = require('apache-arrow');
            const { DuckDBInstance } = require('@duckdb/node-api');
            (async () => {
              const [saelens, parquet, hook] = process.argv.slice(2);
              const out = {};
              const state = JSON.parse(fs.readFileSync(saelens + '/state.json'));
              let rows = 0, total = 0;
              for (const f of state._data_files) {
                const t = tableFromIPC(fs.readFileSync(saelens + '/' + f.filename));
                const field = t.schema.fields.find(x => x.name === hook);
                out.extension = field.metadata.get('ARROW:extension:name');
                out.huggingface = t.schema.metadata.get('huggingface');
                const col = t.getChild(hook);
                for (let i = 0; i < t.numRows; i++) for (const p of col.get(i)) for (const v of p) total += v;
                rows += t.numRows;
              }
              out.arrow_rows = rows; out.arrow_total = total;
              const c = await (await DuckDBInstance.create(':memory:')).connect();
              const r = await c.runAndReadAll(`SELECT count(*)::INTEGER AS n, sum(list_sum(list_transform("${hook}",
                  p -> list_sum(p))))::DOUBLE AS total FROM '${parquet}/*.parquet'`);
              const row = r.getRowObjectsJson()[0];
              out.duckdb_rows = row.n; out.duckdb_total = row.total;
              console.log(JSON.stringify(out));
            })().catch(e => { console.error(e); process.exit(1); });
            """;

    @Test
    void arrowJsAndDuckDbReadTheExports() throws Exception {
        String modules = System.getenv("LOUPE_NODE_MODULES");
        assumeTrue(
                modules != null && Files.isDirectory(Path.of(modules, "apache-arrow")) && runs(List.of("node", "-v")),
                "LOUPE_NODE_MODULES (apache-arrow, @duckdb/node-api from npm) and node are not set up; skipping");
        Path[] e = exports();
        Path script = tmp.resolve("check.cjs");
        Files.writeString(script, NODE);
        ProcessBuilder pb = new ProcessBuilder("node", script.toString(), e[1].toString(), e[2].toString(), RESID)
                .redirectErrorStream(true);
        pb.environment().put("NODE_PATH", modules);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        assertEquals(0, p.waitFor(), out);
        JsonNode r = PythonJson.parse(out.lines().reduce((a, b) -> b).orElse(""));
        double total = ExportFixtures.npy(e[0], RESID)
                .castTo(DataType.DOUBLE)
                .sumNumber()
                .doubleValue();
        assertEquals(DatasetsFeatures.ARRAY2D_EXTENSION, r.get("extension").asText());
        assertEquals(
                SaeLensExportTest.HUGGINGFACE_METADATA, r.get("huggingface").asText());
        assertEquals(ExportFixtures.SEQUENCES, r.get("arrow_rows").asInt());
        assertEquals(ExportFixtures.SEQUENCES, r.get("duckdb_rows").asInt());
        assertEquals(total, r.get("arrow_total").asDouble(), 1e-9 * Math.max(1, Math.abs(total)));
        assertEquals(total, r.get("duckdb_total").asDouble(), 1e-9 * Math.max(1, Math.abs(total)));
    }
}
