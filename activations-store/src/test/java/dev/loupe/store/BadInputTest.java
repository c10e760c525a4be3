package dev.loupe.store;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.progress.ProgressBar;
import dev.loupe.store.corpus.Corpus;
import dev.loupe.store.harvest.HarvestConfig;
import dev.loupe.store.harvest.Harvester;
import dev.loupe.store.read.ActivationStore;
import dev.loupe.store.read.Verify;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

class BadInputTest {
    @TempDir
    Path tmp;

    private static String fails(Executable e) {
        return assertThrows(LoupeException.class, e).getMessage();
    }

    private Path harvest(HookedTransformer model, List<String> hooks, Path corpus, Path out) {
        HarvestConfig cfg = new HarvestConfig(hooks, 16, 4, StoreDType.F32, 0, 0.01, 1, null, 1);
        Harvester.run(
                model,
                "m",
                Corpus.of(List.of(corpus), null, "text", Corpus.TextDocs.LINES),
                null,
                cfg,
                out,
                Harvester.ProgressFactory.silent());
        return out;
    }

    @Test
    void missingCorpusAndNonUtf8TextNameTheFileAndByteOffset() throws Exception {
        String m = fails(() -> Corpus.of(List.of(tmp.resolve("nope.txt")), null, "text", Corpus.TextDocs.LINES));
        assertTrue(m.contains("nope.txt") && m.contains("does not exist"), m);

        Path tok = Fixtures.shared("tokenizers/gpt2/vocab.json").getParent();
        var tokenizer = dev.loupe.engine.tokenizer.Tokenizers.load(tok);
        Path bad = tmp.resolve("bad.txt");
        byte[] good = "first line\nsecond ".getBytes(StandardCharsets.UTF_8);
        byte[] bytes = java.util.Arrays.copyOf(good, good.length + 3);
        bytes[good.length] = (byte) 0xC3; // a lead byte followed by ASCII: invalid
        bytes[good.length + 1] = 'x';
        bytes[good.length + 2] = '\n';
        Files.write(bad, bytes);
        Corpus c = Corpus.of(List.of(bad), tokenizer, "text", Corpus.TextDocs.LINES);
        m = fails(() -> c.documents().forEachRemaining(d -> {}));
        assertTrue(m.contains("bad.txt") && m.contains("byte offset " + good.length), m);

        Path jsonl = tmp.resolve("c.jsonl");
        Files.writeString(jsonl, "{\"text\": \"ok\"}\n{\"body\": \"no text field\"}\n");
        Corpus j = Corpus.of(List.of(jsonl), tokenizer, "text", Corpus.TextDocs.LINES);
        m = fails(() -> j.documents().forEachRemaining(d -> {}));
        assertTrue(m.contains("c.jsonl: line 2 has no string field \"text\""), m);
    }

    @Test
    void unknownHookSuggestsTheClosestAndPerHeadPatternsAreRefused() {
        Path corpus = Fixtures.tokenCorpus(tmp, 100, 97, 1);
        String m = fails(
                () -> harvest(Fixtures.smallModel(), List.of("blocks.1.hook_resid_pots"), corpus, tmp.resolve("a")));
        assertTrue(
                m.contains("unknown hook point 'blocks.1.hook_resid_pots'") && m.contains("blocks.1.hook_resid_post"),
                m);
        m = fails(() -> harvest(Fixtures.smallModel(), List.of("pattern0"), corpus, tmp.resolve("b")));
        assertTrue(m.contains("not one row per token"), m);
    }

    @Test
    void aStoreOfAnotherModelOrFormatVersionIsRefused() throws Exception {
        Path corpus = Fixtures.tokenCorpus(tmp, 200, 97, 2);
        Path out = harvest(Fixtures.smallModel(), List.of("resid_post0"), corpus, tmp.resolve("s"));
        HookedTransformer other = HookedTransformer.random(Fixtures.smallConfig(), 8); // same shape, other weights
        String m = fails(() -> harvest(other, List.of("resid_post0"), corpus, out));
        assertTrue(m.contains("harvested from another model") && m.contains("weights crc32c"), m);
        m = fails(() -> harvest(Fixtures.smallModel(), List.of("resid_post1"), corpus, out));
        assertTrue(m.contains("with other hooks"), m);
        m = fails(() -> ActivationStore.openFor(out, "sha256:0000"));
        assertTrue(m.contains("harvested from another model"), m);

        Path manifest = out.resolve(StoreManifest.FILE);
        Files.writeString(manifest, Files.readString(manifest).replace("\"version\" : 1", "\"version\" : 2"));
        m = fails(() -> ActivationStore.open(out));
        assertTrue(m.contains("store format version 2") && m.contains("reads version 1"), m);
        m = fails(() -> ActivationStore.open(tmp));
        assertTrue(m.contains("not an activations store"), m);
    }

    @Test
    void aCorruptedShardIsNamedByItsChecksumAndATruncatedOneOnOpen() throws Exception {
        Path corpus = Fixtures.tokenCorpus(tmp, 400, 97, 3);
        Path out = harvest(Fixtures.smallModel(), List.of("resid_post0"), corpus, tmp.resolve("s"));
        StoreManifest man = StoreManifest.read(out);
        StoreManifest.FileEntry f = man.shards().get(2).files().get("blocks.0.hook_resid_post");
        Path file = out.resolve(f.path());
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.seek(f.dataOffset() + 100);
            int b = raf.read();
            raf.seek(f.dataOffset() + 100);
            raf.write(b ^ 0x40);
        }
        ActivationStore.open(out).close(); // fast mode reads no activation data
        String m = fails(() -> ActivationStore.open(out, Verify.FULL, ProgressBar.silent()));
        assertTrue(m.contains(file.toString()) && m.contains("shard 2") && m.contains("checksum mismatch"), m);

        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(f.bytes() - 64);
        }
        m = fails(() -> ActivationStore.open(out));
        assertTrue(m.contains(file.toString()) && m.contains("truncated"), m);
    }
}
