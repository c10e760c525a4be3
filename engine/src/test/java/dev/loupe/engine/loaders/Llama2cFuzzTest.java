package dev.loupe.engine.loaders;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.model.HookedTransformer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Feeds the llama2.c loader mutated checkpoints: random header ints, swapped and sign-flipped
 * fields, flipped bytes, truncations and extra bytes. Each must load (and then run) or fail with a
 * {@link LoupeException}; anything else — OutOfMemoryError from a huge header, ND4J or index
 * exceptions — fails the test with the seed and mutations that reproduce it.
 *
 * <p>Seeded and bounded like the safetensors fuzz test: {@code -Dloupe.fuzz.seed=N},
 * {@code -Dloupe.fuzz.cases=N} (default 20000), {@code -Dloupe.fuzz.seconds=S} (default 4).
 */
class Llama2cFuzzTest {
    private static final int[] INTERESTING = {
        0,
        1,
        -1,
        2,
        3,
        4,
        8,
        13,
        16,
        24,
        -13,
        64,
        512,
        4096,
        65536,
        1 << 20,
        1 << 30,
        Integer.MAX_VALUE,
        Integer.MIN_VALUE,
        Integer.MAX_VALUE - 1,
        Integer.MIN_VALUE + 1,
        0x616b3432
    };

    @TempDir
    Path dir;

    @Test
    void mutatedFilesLoadOrFailWithLoupeException() throws IOException {
        long seed = Long.getLong("loupe.fuzz.seed", 0x11A3A2CL);
        int maxCases = Integer.getInteger("loupe.fuzz.cases", 20_000);
        long deadline = System.nanoTime() + Long.getLong("loupe.fuzz.seconds", 4L) * 1_000_000_000L;
        byte[][] bases = {
            Llama2cTestFiles.bytes(Llama2cCheckpointTest.tiny(true, 21)),
            Llama2cTestFiles.bytes(Llama2cCheckpointTest.tiny(false, 22))
        };
        Random master = new Random(seed);
        int cases = 0, accepted = 0;
        for (; cases < maxCases && System.nanoTime() < deadline; cases++) {
            long caseSeed = master.nextLong();
            Random rnd = new Random(caseSeed);
            List<String> log = new ArrayList<>();
            byte[] mutated = bases[rnd.nextInt(bases.length)];
            int n = 1 + rnd.nextInt(3);
            for (int i = 0; i < n; i++) mutated = mutate(mutated, rnd, log);
            Path file = Files.write(dir.resolve("fuzz" + (cases % 2) + ".bin"), mutated);
            try {
                HookedTransformer m = Llama2cCheckpoint.load(file);
                int len = Math.min(4, m.config().nCtx());
                int[] tokens = new int[len];
                for (int i = 0; i < len; i++) tokens[i] = rnd.nextInt(m.config().dVocab());
                m.run(tokens);
                accepted++;
            } catch (LoupeException e) {
                if (e.getMessage() == null || e.getMessage().isBlank())
                    throw new AssertionError("empty message: case " + cases + " seed " + caseSeed + " " + log, e);
            } catch (Throwable t) {
                throw new AssertionError(
                        "case " + cases + " (case seed " + caseSeed + ", master seed " + seed + "): " + log + " threw "
                                + t,
                        t);
            }
        }
        System.out.printf(
                "llama2.c fuzz: %d cases (%d accepted, %d rejected), seed %d%n",
                cases, accepted, cases - accepted, seed);
        assertTrue(cases > 100, "only " + cases + " cases ran");
        assertTrue(accepted > 0 && accepted < cases, "both outcomes should occur: " + accepted + " of " + cases);
    }

    private static byte[] mutate(byte[] in, Random rnd, List<String> log) {
        byte[] b = in.clone();
        ByteBuffer h = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        int fields = Math.min(7, b.length / 4);
        switch (rnd.nextInt(8)) {
            case 0, 1 -> { // one header field to an interesting or random value
                if (fields == 0) return b;
                int f = rnd.nextInt(fields);
                int v = rnd.nextBoolean()
                        ? INTERESTING[rnd.nextInt(INTERESTING.length)]
                        : rnd.nextBoolean() ? rnd.nextInt() : h.getInt(4 * f) + rnd.nextInt(9) - 4;
                log.add("field " + f + " = " + v);
                h.putInt(4 * f, v);
            }
            case 2 -> { // swap two header fields
                if (fields < 2) return b;
                int f = rnd.nextInt(fields), g = rnd.nextInt(fields), x = h.getInt(4 * f);
                log.add("swap fields " + f + ", " + g);
                h.putInt(4 * f, h.getInt(4 * g)).putInt(4 * g, x);
            }
            case 3 -> { // flip the classifier flag
                if (fields < 6) return b;
                log.add("negate vocab_size");
                h.putInt(20, -h.getInt(20));
            }
            case 4 -> { // truncate
                int len = rnd.nextBoolean() ? rnd.nextInt(b.length + 1) : Math.max(0, b.length - 1 - rnd.nextInt(64));
                log.add("truncate to " + len);
                return Arrays.copyOf(b, len);
            }
            case 5 -> { // append
                int extra = 1 + rnd.nextInt(rnd.nextBoolean() ? 8 : 4096);
                log.add("append " + extra);
                byte[] c = Arrays.copyOf(b, b.length + extra);
                for (int i = b.length; i < c.length; i++) c[i] = (byte) rnd.nextInt();
                return c;
            }
            case 6 -> { // random bytes in the header
                if (b.length == 0) return b;
                int k = 1 + rnd.nextInt(4);
                for (int i = 0; i < k; i++) {
                    int at = rnd.nextInt(Math.min(b.length, 28));
                    b[at] = (byte) rnd.nextInt();
                    log.add("header byte " + at + " = " + b[at]);
                }
            }
            default -> { // random bytes anywhere (weights included)
                if (b.length == 0) return b;
                int at = rnd.nextInt(b.length);
                b[at] = (byte) rnd.nextInt();
                log.add("byte " + at + " = " + b[at]);
            }
        }
        return b;
    }
}
