package dev.loupe.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.store.export.NpyExport;
import dev.loupe.store.read.ActivationStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Debian's python3-numpy reads the export (np.load, mmap_mode="r") and a shard in place, as docs/activations-store.md shows. */
class PythonExportTest {
    @TempDir
    Path tmp;

    static boolean numpyAvailable() {
        try {
            Process p = new ProcessBuilder("/usr/bin/python3", "-c", "import numpy")
                    .redirectErrorStream(true)
                    .start();
            p.getInputStream().readAllBytes();
            return p.waitFor() == 0;
        } catch (Exception e) {
            return false;
        }
    }

    @Test
    void numpyReadsExportedNpyAndShardsAndAgreesRowForRow() throws Exception {
        assumeTrue(numpyAvailable(), "/usr/bin/python3 with numpy is absent (apt-get install python3-numpy); skipping");
        for (StoreDType dt : List.of(StoreDType.F32, StoreDType.BF16)) {
            Path corpus = Fixtures.tokenCorpus(tmp, 300, 97, 4);
            Path store = tmp.resolve("store-" + dt.label()), out = tmp.resolve("export-" + dt.label());
            Fixtures.harvest(store, corpus, List.of("resid_post0", "blocks.1.attn.hook_z"), dt);
            try (ActivationStore s = ActivationStore.open(store)) {
                NpyExport.export(s, out, s.hooks(), ProgressBar.silent());
                String h = "blocks.1.attn.hook_z";
                INDArray all = s.rows(h, 0, (int) s.rows()).castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE);
                String script =
                        """
                        import json, sys, numpy as np
                        out, store, hook = sys.argv[1], sys.argv[2], sys.argv[3]
                        x = np.load(f"{out}/{hook}.npy", mmap_mode="r")
                        tokens = np.load(f"{out}/tokens.npy", mmap_mode="r")
                        seq = np.load(f"{out}/sequence.npy"); pos = np.load(f"{out}/position.npy")
                        # a shard read in place: the safetensors header is JSON after an 8-byte length
                        m = json.load(open(f"{store}/manifest.json"))
                        f = m["shards"][1]["files"][hook]
                        raw = open(f"{store}/{f['path']}", "rb").read()
                        n = int.from_bytes(raw[:8], "little"); head = json.loads(raw[8:8 + n])["activations"]
                        same = None
                        if head["dtype"] == "F32":
                            shard = np.frombuffer(raw[8 + n:], dtype="<f4").reshape(head["shape"])
                            first = m["shards"][1]["first_row"]
                            same = bool(np.array_equal(shard, x[first:first + shard.shape[0]]))
                        print(json.dumps({"shape": list(x.shape), "dtype": str(x.dtype), "mmap": isinstance(x, np.memmap),
                            "sum": float(x.astype(np.float64).sum()), "row7": float(x[7].astype(np.float64).sum()),
                            "tokens": int(tokens.astype(np.int64).sum()), "n_tokens": int(tokens.shape[0]),
                            "seq_last": int(seq[-1]), "pos_sum": int(pos.sum()), "shard_equal": same}))
                        """;
                Path py = tmp.resolve("check.py");
                Files.writeString(py, script);
                Process p = new ProcessBuilder("/usr/bin/python3", py.toString(), out.toString(), store.toString(), h)
                        .redirectErrorStream(true)
                        .start();
                String res = new String(p.getInputStream().readAllBytes()).trim();
                assertEquals(0, p.waitFor(), res);
                var json = new com.fasterxml.jackson.databind.ObjectMapper()
                        .readTree(res.lines().reduce((a, b) -> b).orElse(""));
                assertEquals(
                        "[" + s.rows() + "," + s.d(h) + "]",
                        json.get("shape").toString().replace(" ", ""));
                assertEquals("float32", json.get("dtype").asText());
                assertEquals(true, json.get("mmap").asBoolean());
                assertEquals(
                        all.sumNumber().doubleValue(),
                        json.get("sum").asDouble(),
                        1e-6 * Math.max(1, Math.abs(all.sumNumber().doubleValue())));
                assertEquals(
                        all.getRow(7).sumNumber().doubleValue(),
                        json.get("row7").asDouble(),
                        1e-9);
                long tokenSum = 0;
                for (int t : s.tokens(0, (int) s.rows())) tokenSum += t;
                assertEquals(tokenSum, json.get("tokens").asLong());
                assertEquals(s.rows(), json.get("n_tokens").asLong());
                assertEquals(s.manifest().sequences() - 1, json.get("seq_last").asLong());
                assertEquals(
                        s.manifest().sequences() * (15 * 16 / 2),
                        json.get("pos_sum").asLong());
                if (dt == StoreDType.F32)
                    assertEquals(true, json.get("shard_equal").asBoolean(), String.format(Locale.ROOT, "%s", res));
            }
        }
    }
}
