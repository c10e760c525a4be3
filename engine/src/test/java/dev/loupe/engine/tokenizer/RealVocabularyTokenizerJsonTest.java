package dev.loupe.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loupe.engine.SharedData;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tokenizer.json code paths on real vocabularies: the reference files are converted to
 * tokenizer.json the way Hugging Face converts them, and must still reproduce every golden line.
 */
class RealVocabularyTokenizerJsonTest {

    @TempDir
    Path dir;

    /** GPT-2's tokenizer.json: ByteLevel pre-tokenizer and decoder, {@code <|endoftext|>} added. */
    private static ObjectNode gpt2Json(Path gpt2) throws IOException {
        ObjectNode root = HandWrittenTokenizers.JSON.createObjectNode();
        root.putArray("added_tokens").add(HandWrittenTokenizers.addedToken(50256, "<|endoftext|>", true));
        root.putNull("normalizer");
        root.putObject("pre_tokenizer")
                .put("type", "ByteLevel")
                .put("add_prefix_space", false)
                .put("trim_offsets", true)
                .put("use_regex", true);
        root.putObject("decoder")
                .put("type", "ByteLevel")
                .put("add_prefix_space", true)
                .put("trim_offsets", true)
                .put("use_regex", true);
        ObjectNode model = HandWrittenTokenizers.bpeModel();
        model.set(
                "vocab",
                HandWrittenTokenizers.JSON.readTree(gpt2.resolve("vocab.json").toFile()));
        ArrayNode merges = model.putArray("merges");
        for (String[] m : Gpt2Files.readMerges(gpt2.resolve("merges.txt"))) merges.add(m[0] + " " + m[1]);
        root.set("model", model);
        return root;
    }

    private static void assertGolden(Tokenizer tok, List<SharedData.Golden> golden, boolean bos) {
        List<String> failures = new ArrayList<>();
        for (SharedData.Golden g : golden) {
            int[] ids = bos ? tok.toTokens(g.text(), true) : tok.encode(g.text());
            if (!Arrays.equals(g.ids(), ids))
                failures.add("line " + g.line() + " " + g.text() + "\n  expected " + Arrays.toString(g.ids())
                        + "\n  actual   " + Arrays.toString(ids));
        }
        assertTrue(failures.isEmpty(), String.join("\n", failures));
    }

    @Test
    void gpt2AsTokenizerJson() throws IOException {
        Path gpt2 = SharedData.require("tokenizers/gpt2");
        List<SharedData.Golden> golden = SharedData.golden(SharedData.require("golden/gpt2_tokens.jsonl"));
        HfTokenizer tok = HandWrittenTokenizers.load(dir, gpt2Json(gpt2));
        assertGolden(tok, golden, false);
        assertEquals(OptionalInt.of(50256), tok.bosId());
        assertEquals(OptionalInt.of(50256), tok.eosId());
        for (SharedData.Golden g : golden) assertEquals(g.text(), tok.decode(g.ids()));
    }

    @Test
    void gpt2AsLlama3StyleSplitSequence() throws IOException {
        // Llama 3 / Qwen2 layout: the regex in a Split, then ByteLevel without its own regex
        Path gpt2 = SharedData.require("tokenizers/gpt2");
        List<SharedData.Golden> golden = SharedData.golden(SharedData.require("golden/gpt2_tokens.jsonl"));
        ObjectNode json = gpt2Json(gpt2);
        ObjectNode pre = json.putObject("pre_tokenizer");
        pre.put("type", "Sequence");
        ArrayNode steps = pre.putArray("pretokenizers");
        ObjectNode split = steps.addObject().put("type", "Split");
        split.putObject("pattern").put("Regex", PreTokenizer.GPT2_PATTERN);
        split.put("behavior", "Isolated").put("invert", false);
        steps.addObject()
                .put("type", "ByteLevel")
                .put("add_prefix_space", false)
                .put("trim_offsets", true)
                .put("use_regex", false);
        assertGolden(HandWrittenTokenizers.load(dir, json), golden, false);
    }

    /**
     * Llama 2's tokenizer.json as transformers' LlamaConverter writes it (legacy): the vocabulary of
     * tokenizer.bin with ▁ for spaces, merges from SentencePieceExtractor (every split of a piece
     * into two pieces, ordered by the piece's score), Prepend + Replace normalizer, byte fallback.
     */
    private static ObjectNode llama2Json(Path bin) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(Files.readAllBytes(bin)).order(ByteOrder.LITTLE_ENDIAN);
        buf.getInt();
        List<String> pieces = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        while (buf.hasRemaining()) {
            scores.add(buf.getFloat());
            byte[] b = new byte[buf.getInt()];
            buf.get(b);
            pieces.add(new String(b, StandardCharsets.UTF_8).replace(' ', '▁'));
        }
        pieces.set(0, "<unk>");
        pieces.set(1, "<s>");
        pieces.set(2, "</s>");
        Map<String, Integer> vocab = new HashMap<>();
        for (int i = 0; i < pieces.size(); i++) vocab.putIfAbsent(pieces.get(i), i);
        record Merge(String left, String right, float score, int leftId, int rightId) {}
        List<Merge> merges = new ArrayList<>();
        for (int id = 0; id < pieces.size(); id++) {
            String p = pieces.get(id);
            List<Merge> local = new ArrayList<>();
            int[] cps = p.codePoints().toArray();
            for (int k = 1; k < cps.length; k++) {
                String l = new String(cps, 0, k), r = new String(cps, k, cps.length - k);
                if (vocab.containsKey(l) && vocab.containsKey(r))
                    local.add(new Merge(l, r, scores.get(id), vocab.get(l), vocab.get(r)));
            }
            local.sort(Comparator.comparingInt(Merge::leftId).thenComparingInt(Merge::rightId));
            merges.addAll(local);
        }
        merges.sort(Comparator.comparingDouble((Merge m) -> m.score).reversed()); // stable, as Python's sorted
        ObjectNode root = HandWrittenTokenizers.sentencePiece();
        ObjectNode model = (ObjectNode) root.get("model");
        ObjectNode v = model.putObject("vocab");
        for (int i = 0; i < pieces.size(); i++) v.put(pieces.get(i), i);
        ArrayNode m = model.putArray("merges");
        for (Merge x : merges) m.add(x.left + " " + x.right);
        return root;
    }

    @Test
    void llama2AsTokenizerJson() throws IOException {
        Path bin = SharedData.require("tokenizers/llama2c/tokenizer.bin");
        List<SharedData.Golden> golden = SharedData.golden(SharedData.require("golden/llama2c_tokens.jsonl"));
        ObjectNode json = llama2Json(bin);
        HfTokenizer tok = HandWrittenTokenizers.load(dir, json);
        assertEquals(32000, tok.vocabSize());
        assertGolden(tok, golden, true);
        for (SharedData.Golden g : golden) assertEquals(g.text(), tok.decode(tok.encode(g.text())));

        // the newer conversion (Metaspace, prepend_scheme "first", no split) gives the same ids here,
        // none of the lines starting with a space
        json.putNull("normalizer");
        json.putObject("pre_tokenizer")
                .put("type", "Metaspace")
                .put("replacement", "▁")
                .put("prepend_scheme", "first")
                .put("split", false);
        List<SharedData.Golden> noLeadingSpace =
                golden.stream().filter(g -> !g.text().startsWith(" ")).toList();
        assertGolden(HandWrittenTokenizers.load(dir.resolve("metaspace"), json), noLeadingSpace, true);
    }
}
