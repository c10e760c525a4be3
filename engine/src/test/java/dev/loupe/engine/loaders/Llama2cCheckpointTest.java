package dev.loupe.engine.loaders;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.TestModels;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** The llama2.c format on small synthetic files: layout, tied/untied classifier, header validation. */
class Llama2cCheckpointTest {
    @TempDir
    Path dir;

    static final int[] TOKENS = {1, 5, 9, 2, 12, 0, 7, 7, 3, 11};

    static HookedTransformer tiny(boolean shared, long seed) {
        return TestModels.model(Llama2cTestFiles.config(16, 24, 2, 4, 2, 13, 16, shared), seed);
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void writeThenLoadGivesTheSameModel(boolean shared) throws IOException {
        HookedTransformer model = tiny(shared, 7);
        Path file = Llama2cTestFiles.write(dir.resolve("m.bin"), model);
        HookedTransformer loaded = Llama2cCheckpoint.load(file);
        assertEquals(model.config(), loaded.config());
        for (String name : model.weights().names())
            assertEquals(model.weights().get(name), loaded.weights().get(name), name);
        assertEquals(model.run(TOKENS), loaded.run(TOKENS));
        assertEquals(
                shared ? 13 : -13,
                ByteBuffer.wrap(Files.readAllBytes(file), 20, 4)
                        .order(ByteOrder.LITTLE_ENDIAN)
                        .getInt());
    }

    /** The loader reorders each head's q/k output dims to [0, 2, 4, ..., 1, 3, 5, ...]. */
    @Test
    void interleavedToHalvesIsHuggingFacesPermute() {
        int heads = 2, dHead = 6, in = 3;
        float[][] w = new float[heads * dHead][in]; // [out, in], value = 100 * out + in
        for (int o = 0; o < w.length; o++) for (int i = 0; i < in; i++) w[o][i] = 100 * o + i;
        INDArray t = Llama2cCheckpoint.interleavedToHalves(Nd4j.createFromArray(w), heads, dHead); // [in, out]
        assertArrayEquals(new long[] {in, heads * dHead}, t.shape());
        int[] order = {0, 2, 4, 1, 3, 5};
        for (int h = 0; h < heads; h++)
            for (int j = 0; j < dHead; j++)
                for (int i = 0; i < in; i++)
                    assertEquals(
                            100 * (h * dHead + order[j]) + i, t.getFloat(i, h * dHead + j), "head " + h + " dim " + j);
        assertEquals(Nd4j.createFromArray(w), Llama2cTestFiles.halvesToInterleaved(t, heads, dHead));
    }

    @Test
    void theRopePermutationChangesQAndKButNotTheScores() throws IOException {
        HookedTransformer model = tiny(true, 3);
        Path file = Llama2cTestFiles.write(dir.resolve("m.bin"), model);
        HookedTransformer permuted = Llama2cCheckpoint.load(file), raw = Llama2cCheckpoint.load(file, false);
        assertEquals(permuted.weights().get("blocks.0.attn.W_V"), raw.weights().get("blocks.0.attn.W_V"));
        assertNotEquals(
                permuted.weights().get("blocks.0.attn.W_Q"), raw.weights().get("blocks.0.attn.W_Q"));
        assertNotEquals(permuted.run(TOKENS), raw.run(TOKENS));
    }

    // ------------------------------------------------------------------ header validation

    private Path file(byte[] content) throws IOException {
        return Files.write(dir.resolve("bad.bin"), content);
    }

    private byte[] valid(boolean shared) {
        return Llama2cTestFiles.bytes(tiny(shared, 1));
    }

    private static byte[] withInt(byte[] b, int index, int value) {
        byte[] c = b.clone();
        ByteBuffer.wrap(c).order(ByteOrder.LITTLE_ENDIAN).putInt(4 * index, value);
        return c;
    }

    private void assertRejected(byte[] content, String... fragments) throws IOException {
        Path f = file(content);
        LoupeException e = assertThrows(LoupeException.class, () -> Llama2cCheckpoint.load(f));
        assertTrue(e.getMessage().contains(f.toString()), "names the file: " + e.getMessage());
        for (String s : fragments)
            assertTrue(e.getMessage().contains(s), "should mention '" + s + "': " + e.getMessage());
    }

    @Test
    void rejectsBadHeaders() throws IOException {
        byte[] ok = valid(true);
        assertRejected(Arrays.copyOf(ok, 20), "too short");
        assertRejected(withInt(ok, 0, -16), "dim is -16");
        assertRejected(withInt(ok, 1, 0), "hidden_dim is 0");
        assertRejected(withInt(ok, 2, -1), "n_layers is -1");
        assertRejected(withInt(ok, 3, 0), "n_heads is 0");
        assertRejected(withInt(ok, 4, 0), "n_kv_heads is 0");
        assertRejected(withInt(ok, 5, 0), "vocab_size is 0");
        assertRejected(withInt(ok, 5, Integer.MIN_VALUE), "vocab_size is -2147483648");
        assertRejected(withInt(ok, 6, 0), "seq_len is 0");
        assertRejected(withInt(ok, 3, 3), "not a multiple of n_heads 3");
        assertRejected(withInt(withInt(ok, 3, 8), 4, 2), "implies a file of"); // consistent dims, wrong size
        assertRejected(withInt(withInt(ok, 0, 12), 3, 4), "head size 3", "odd");
        assertRejected(withInt(ok, 4, 3), "not a multiple of n_kv_heads 3");
        assertRejected(withInt(ok, 0, 0x616b3432), "ak42", "--version 0");
        assertRejected(withInt(ok, 2, Integer.MAX_VALUE), "implies a file of");
        assertRejected(withInt(withInt(ok, 0, 1 << 30), 3, 2), "2^63");
    }

    @Test
    void rejectsFilesOfTheWrongSize() throws IOException {
        byte[] shared = valid(true), unshared = valid(false);
        assertRejected(Arrays.copyOf(shared, shared.length - 4), "truncated");
        assertRejected(Arrays.copyOf(shared, shared.length + 1), "extra bytes");
        // An unshared file whose header claims a shared classifier, and the reverse.
        assertRejected(withInt(unshared, 5, 13), "sign of vocab_size");
        assertRejected(withInt(shared, 5, -13), "sign of vocab_size");
    }

    @Test
    void missingFileIsALoupeException() {
        Path f = dir.resolve("nope.bin");
        LoupeException e = assertThrows(LoupeException.class, () -> Llama2cCheckpoint.load(f));
        assertTrue(e.getMessage().contains(f.toString()));
        assertThrows(LoupeException.class, () -> Llama2cCheckpoint.readHeader(f));
    }

    @Test
    void readHeaderReadsNoWeights() throws IOException {
        Path f = file(valid(false));
        Llama2cHeader h = Llama2cCheckpoint.readHeader(f);
        assertEquals(new Llama2cHeader(16, 24, 2, 4, 2, 13, 16, false), h);
        assertEquals(Files.size(f), h.fileBytes());
        ModelConfig c = h.toModelConfig();
        assertEquals(4, c.dHead());
        assertTrue(!c.tiedEmbeddings());
    }
}
