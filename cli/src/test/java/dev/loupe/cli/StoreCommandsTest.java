package dev.loupe.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.Checkpoint;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.engine.tokenizer.Tokenizers;
import dev.loupe.store.Fixtures;
import dev.loupe.store.corpus.Chunker;
import dev.loupe.store.read.ActivationStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ./loupe harvest} and {@code ./loupe store info|verify|export}, run in-process. */
class StoreCommandsTest {
    @TempDir
    Path tmp;

    private static String run(String... args) {
        return CliRun.output(args);
    }

    @Test
    void harvestsTextAndJsonlThroughTheGpt2TokenizerWithSaeLensChunking() throws Exception {
        Path tokDir = Fixtures.shared("tokenizers/gpt2/vocab.json").getParent();
        Tokenizer tok = Tokenizers.load(tokDir);
        ModelConfig cfg = ModelConfig.builder()
                .dModel(16)
                .nLayers(2)
                .nHeads(2)
                .dVocab(50257)
                .nCtx(32)
                .build();
        Path model = tmp.resolve("model");
        Checkpoint.save(HookedTransformer.random(cfg, 1), model);
        List<String> lines = List.of(
                "Once upon a time there was a little robot.",
                "It liked to count numbers: 1, 2, 3!",
                "Naïve café — ünïcödé text works too.",
                "<|endoftext|> special text is recognised",
                "The end.");
        Path txt = tmp.resolve("a.txt"), jsonl = tmp.resolve("b.jsonl");
        Files.writeString(txt, String.join("\n", lines.subList(0, 3)) + "\n\n");
        Files.writeString(
                jsonl,
                lines.subList(3, 5).stream()
                        .map(l -> "{\"text\": \"" + l + "\"}")
                        .reduce((x, y) -> x + "\n" + y)
                        .orElseThrow());
        Path out = tmp.resolve("store");
        String printed = run(
                "harvest",
                "--model",
                model.toString(),
                "--corpus",
                txt + "," + jsonl,
                "--hooks",
                "resid_pre1",
                "--context",
                "8",
                "--tokenizer",
                tokDir.toString(),
                "--out",
                out.toString(),
                "--quiet");
        assertTrue(printed.contains("rows"), printed);

        List<int[]> docs = new ArrayList<>();
        for (String l : lines) docs.add(tok.encode(l, true));
        List<int[]> want = new ArrayList<>();
        int bos = tok.bosForPrepending();
        new Chunker(docs.iterator(), 8, bos, null, bos).forEachRemaining(want::add);
        try (ActivationStore s = ActivationStore.open(out)) {
            assertEquals(want.size() * 8L, s.rows());
            for (int i = 0; i < want.size(); i++) assertArrayEquals(want.get(i), s.tokens(i * 8L, 8), "sequence " + i);
            assertEquals(List.of("blocks.1.hook_resid_pre"), s.hooks());
            assertEquals(2, s.manifest().creation().stopAtLayer()); // hook_resid_pre fires inside block 1
        }
    }

    @Test
    void stories260KHarvestInfoVerifyExport() throws Exception {
        Path bin = Fixtures.shared("models/stories260K/stories260K.bin");
        Path corpus = Fixtures.tokenCorpus(tmp, 2000, 512, 3);
        Path out = tmp.resolve("store");
        run(
                "harvest",
                "--model",
                bin.toString(),
                "--corpus",
                corpus.toString(),
                "--hooks",
                "resid_post4,blocks.2.mlp.hook_post",
                "--context",
                "64",
                "--bos",
                "1",
                "--dtype",
                "bf16",
                "--max-tokens",
                "1000",
                "--out",
                out.toString(),
                "--quiet");
        String info = run("store", "info", out.toString(), "--per-dim", "blocks.4.hook_resid_post");
        assertTrue(
                info.contains("rows       960 (15 sequences x context 64)")
                        && info.contains("blocks.2.mlp.hook_post  d=172")
                        && info.contains("mean_norm")
                        && info.contains("per dimension"),
                info);
        assertTrue(run("store", "verify", out.toString()).contains("every CRC32C matches"));
        String exported = run(
                "store",
                "export",
                out.toString(),
                "--out",
                tmp.resolve("npy").toString(),
                "--hooks",
                "blocks.4.hook_resid_post");
        assertTrue(Files.size(tmp.resolve("npy/blocks.4.hook_resid_post.npy")) > 960L * 64 * 4, exported);
        assertTrue(Files.exists(tmp.resolve("npy/tokens.npy")));
        LoupeException e = assertThrows(
                LoupeException.class,
                () -> Main.run(new String[] {
                    "harvest",
                    "--model",
                    bin.toString(),
                    "--corpus",
                    corpus.toString(),
                    "--hooks",
                    "resid_post9",
                    "--context",
                    "64",
                    "--bos",
                    "1",
                    "--out",
                    tmp.resolve("x").toString()
                }));
        assertTrue(e.getMessage().contains("unknown hook point 'resid_post9'"), e.getMessage());
        e = assertThrows(
                LoupeException.class,
                () -> Main.run(new String[] {
                    "harvest",
                    "--model",
                    bin.toString(),
                    "--corpus",
                    corpus.toString(),
                    "--hooks",
                    "resid_post1",
                    "--context",
                    "64",
                    "--out",
                    tmp.resolve("y").toString()
                }));
        assertTrue(e.getMessage().contains("give --bos ID"), e.getMessage());
    }
}
