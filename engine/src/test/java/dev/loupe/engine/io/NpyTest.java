package dev.loupe.engine.io;

import static dev.loupe.engine.io.IoTestSupport.assertLoupe;
import static dev.loupe.engine.io.IoTestSupport.assertSameValues;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

class NpyTest {

    @TempDir
    Path dir;

    private static final DataType[] TYPES = {
        DataType.FLOAT,
        DataType.DOUBLE,
        DataType.INT,
        DataType.LONG,
        DataType.HALF,
        DataType.SHORT,
        DataType.BYTE,
        DataType.UBYTE,
        DataType.BOOL
    };

    private static INDArray sample(DataType type) {
        INDArray values = Nd4j.createFromArray(new double[] {0, 1, -2, 3, 127, -128, 5, 6, 7, 8, 9, 10})
                .reshape(3, 4);
        return switch (type) {
            case UBYTE -> Nd4j.createFromArray(new int[] {0, 1, 2, 255, 128, 5, 6, 7, 8, 9, 10, 11})
                    .castTo(type)
                    .reshape(3, 4);
            case BOOL -> values.gt(2);
            case LONG -> Nd4j.createFromArray(new long[] {Long.MIN_VALUE, Long.MAX_VALUE, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
                    .reshape(3, 4);
            case FLOAT -> Nd4j.createFromArray(
                            new float[] {Float.NaN, Float.NEGATIVE_INFINITY, -0f, 1e-40f, 1, 2, 3, 4, 5, 6, 7, 8})
                    .reshape(3, 4);
            default -> values.castTo(type);
        };
    }

    @Test
    void everyDtypeRoundTrips() {
        for (DataType t : TYPES) {
            Path file = dir.resolve(t + ".npy");
            INDArray a = sample(t);
            NpyWriter.write(file, a);
            assertSameValues(a, NpyReader.read(file));
        }
    }

    @Test
    void viewsFortranOrderScalarsAndEmptyArrays() {
        INDArray base = Nd4j.linspace(0, 59, 60, DataType.DOUBLE).reshape(3, 4, 5);
        INDArray[] arrays = {
            base.get(NDArrayIndex.all(), NDArrayIndex.point(1), NDArrayIndex.interval(0, 2, 5)),
            base.permute(2, 1, 0),
            base.dup('f'),
            base.get(NDArrayIndex.point(1)),
            Nd4j.scalar(DataType.FLOAT, 2.5f),
            Nd4j.scalar(DataType.LONG, -9L),
            Nd4j.create(DataType.FLOAT, new long[] {0}, 'c'),
            Nd4j.create(DataType.INT, new long[] {2, 0, 3}, 'c'),
            Nd4j.createFromArray(1f, 2f, 3f)
        };
        for (int i = 0; i < arrays.length; i++) {
            Path file = dir.resolve("v" + i + ".npy");
            NpyWriter.write(file, arrays[i]);
            INDArray read = NpyReader.read(file);
            assertSameValues(arrays[i].dup('c'), read);
            assertEquals(arrays[i].rank(), read.rank());
        }
    }

    @Test
    void headerIsVersion1AlignedTo64AndReadableAsNumpyText() throws IOException {
        Path file = dir.resolve("h.npy");
        NpyWriter.write(file, Nd4j.zeros(DataType.FLOAT, 2, 3));
        byte[] all = Files.readAllBytes(file);
        assertEquals((byte) 0x93, all[0]);
        assertEquals("NUMPY", new String(all, 1, 5, StandardCharsets.US_ASCII));
        assertEquals(1, all[6]);
        assertEquals(0, all[7]);
        int headerLength =
                ByteBuffer.wrap(all, 8, 2).order(ByteOrder.LITTLE_ENDIAN).getShort() & 0xFFFF;
        assertEquals(0, (10 + headerLength) % 64);
        String header = new String(all, 10, headerLength, StandardCharsets.US_ASCII);
        assertTrue(header.startsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"), header);
        assertTrue(header.endsWith("\n"));
        assertEquals(10 + headerLength + 24, all.length);
        NpyWriter.write(file, Nd4j.zeros(DataType.INT, 7));
        assertTrue(new String(Files.readAllBytes(file), StandardCharsets.US_ASCII).contains("'shape': (7,)"));
        NpyWriter.write(file, Nd4j.scalar(DataType.DOUBLE, 1.0));
        assertTrue(new String(Files.readAllBytes(file), StandardCharsets.US_ASCII).contains("'shape': ()"));
    }

    @Test
    void readsVersion2And3AndLooseHeaderSpellings() throws IOException {
        byte[] data = IoTestSupport.leFloats(1, 2, 3, 4, 5, 6);
        INDArray expected = Nd4j.createFromArray(new float[][] {{1, 2, 3}, {4, 5, 6}});
        String[] dicts = {
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
            "{\"shape\": (2,3), \"descr\": \"<f4\", \"fortran_order\": False}",
            "{'descr':'<f4','fortran_order':False,'shape':(2L, 3L)}"
        };
        for (int version = 1; version <= 3; version++) {
            for (int i = 0; i < dicts.length; i++) {
                Path file = IoTestSupport.write(dir, "v" + version + "_" + i + ".npy", npy(version, dicts[i], data));
                assertSameValues(expected, NpyReader.read(file));
            }
        }
        Path utf8 = IoTestSupport.write(
                dir, "u.npy", npy(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), } ü", data));
        assertLoupe(() -> NpyReader.read(utf8), "u.npy", "after the header dict");
    }

    @Test
    void fortranOrderFilesAreReturnedInCOrder() throws IOException {
        // column-major bytes of [[1, 2, 3], [4, 5, 6]]
        byte[] data = IoTestSupport.leFloats(1, 4, 2, 5, 3, 6);
        Path file = IoTestSupport.write(
                dir, "f.npy", npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data));
        INDArray read = NpyReader.read(file);
        assertSameValues(Nd4j.createFromArray(new float[][] {{1, 2, 3}, {4, 5, 6}}), read);
    }

    @Test
    void malformedFilesAreRejectedNamingTheFile() throws IOException {
        byte[] data = IoTestSupport.leFloats(1, 2);
        String ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
        check("magic.npy", "not a .npy file", "XNUMPY".getBytes(StandardCharsets.US_ASCII));
        check("short.npy", "not a .npy file", new byte[] {(byte) 0x93, 'N', 'U'});
        byte[] v4 = npy(1, ok, data);
        v4[6] = 4;
        check("version.npy", "version 4.0", v4);
        byte[] longHeader = npy(1, ok, data);
        longHeader[8] = (byte) 0xFF;
        longHeader[9] = (byte) 0xFF;
        check("hlen.npy", "runs past the end", longHeader);
        check("bigendian.npy", "'>f4'", npy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", data));
        check(
                "struct.npy",
                "structured",
                npy(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", data));
        check("nokey.npy", "must contain", npy(1, "{'descr': '<f4', 'shape': (2,), }", data));
        check(
                "extrakey.npy",
                "unexpected key 'x'",
                npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", data));
        check(
                "twice.npy",
                "appears twice",
                npy(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", data));
        check(
                "notuple.npy",
                "must be a tuple",
                npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", data));
        check("negdim.npy", "shape[0]", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", data));
        check("bool.npy", "True or False", npy(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", data));
        check(
                "unterminated.npy",
                "unterminated",
                npy(1, "{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }", data));
        check("truncated.npy", "needs 8 data bytes but the file has 4", npy(1, ok, Arrays.copyOf(data, 4)));
        check("extra.npy", "needs 8 data bytes but the file has 12", npy(1, ok, Arrays.copyOf(data, 12)));
        check(
                "overflow.npy",
                "2^63",
                npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", data));
        check(
                "huge.npy",
                "64 bits",
                npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,), }", data));
        assertLoupe(() -> NpyReader.read(dir.resolve("absent.npy")), "absent.npy");
        assertLoupe(
                () -> NpyWriter.write(dir.resolve("bf16.npy"), Nd4j.ones(DataType.BFLOAT16, 2)),
                "bf16.npy",
                "BFLOAT16");
    }

    private void check(String name, String fragment, byte[] content) throws IOException {
        Path file = IoTestSupport.write(dir, name, content);
        assertLoupe(() -> NpyReader.read(file), name, fragment);
    }

    /** A hand-built .npy file of the given version (padding to 64 as numpy does). */
    static byte[] npy(int version, String dict, byte[] data) {
        int prefix = version == 1 ? 10 : 12;
        byte[] dictBytes = dict.getBytes(version == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        int total = (prefix + dictBytes.length + 1 + 63) / 64 * 64;
        int headerLength = total - prefix;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) version, 0});
        ByteBuffer len = ByteBuffer.allocate(version == 1 ? 2 : 4).order(ByteOrder.LITTLE_ENDIAN);
        if (version == 1) {
            len.putShort((short) headerLength);
        } else {
            len.putInt(headerLength);
        }
        out.writeBytes(len.array());
        out.writeBytes(dictBytes);
        out.writeBytes(" ".repeat(headerLength - dictBytes.length - 1).getBytes(StandardCharsets.US_ASCII));
        out.write('\n');
        out.writeBytes(data);
        return out.toByteArray();
    }

    /** Corrupted .npy files either read or fail with a LoupeException naming the file — nothing else. */
    @Test
    void corruptedFilesFailOnlyWithLoupeException() throws IOException {
        long seed = Long.getLong("loupe.fuzz.seed", 77L);
        long deadline = System.nanoTime() + Long.getLong("loupe.fuzz.seconds", 2L) * 1_000_000_000L;
        Random master = new Random(seed);
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
        byte[] data = IoTestSupport.leFloats(1, 2, 3, 4, 5, 6);
        String alphabet = "{}()[],:'\"0123456789-LTrueFalse <>|fiub2348 descrshapefortran_order\u00e9\u0000";
        int cases = 0;
        for (; cases < 20_000 && System.nanoTime() < deadline; cases++) {
            long caseSeed = master.nextLong();
            Random rnd = new Random(caseSeed);
            byte[] file;
            int version = 1 + rnd.nextInt(3);
            if (rnd.nextBoolean()) {
                StringBuilder d = new StringBuilder(dict);
                for (int i = 1 + rnd.nextInt(3); i > 0; i--) {
                    int pos = rnd.nextInt(d.length() + 1);
                    if (rnd.nextBoolean() && pos < d.length()) {
                        d.delete(pos, Math.min(d.length(), pos + 1 + rnd.nextInt(6)));
                    } else {
                        d.insert(pos, alphabet.charAt(rnd.nextInt(alphabet.length())));
                    }
                }
                file = npy(version, d.toString(), rnd.nextInt(4) == 0 ? Arrays.copyOf(data, rnd.nextInt(40)) : data);
            } else {
                file = npy(version, dict, data);
                for (int i = 1 + rnd.nextInt(3); i > 0; i--) {
                    file[rnd.nextInt(Math.min(file.length, 16))] = (byte) rnd.nextInt(256);
                }
                if (rnd.nextInt(3) == 0) {
                    file = Arrays.copyOf(file, rnd.nextInt(file.length + 1));
                }
            }
            Path path = IoTestSupport.write(dir, "fuzz" + (cases % 2) + ".npy", file);
            try {
                NpyReader.read(path);
            } catch (LoupeException e) {
                assertTrue(e.getMessage().contains(path.toString()), e.getMessage());
            } catch (Throwable t) {
                throw new AssertionError(
                        "npy fuzz case " + cases + " (-Dloupe.fuzz.seed=" + seed + ", case seed " + caseSeed + "): "
                                + t,
                        t);
            }
        }
        assertTrue(cases >= 200, "too few cases: " + cases);
    }

    @Test
    void headerEncodingIsParsedBack() {
        for (long[] shape : new long[][] {{}, {0}, {5}, {2, 3}, {1, 1, 1, 1}}) {
            NpyHeader h = new NpyHeader(NpyDType.F8, false, shape);
            byte[] encoded = h.encode();
            assertEquals(0, encoded.length % 64);
            String text = new String(encoded, 10, encoded.length - 10, StandardCharsets.US_ASCII);
            assertEquals(h, NpyHeader.parse(text, "x.npy"));
            assertArrayEquals(shape, NpyHeader.parse(text, "x.npy").shape());
        }
    }
}
