package dev.loupe.engine.io;

import static dev.loupe.engine.io.IoTestSupport.assertSameValues;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Checks the formats against an independent implementation: numpy. Skipped (not failed) when
 * {@code /usr/bin/python3} with numpy is not available.
 */
class NumpyInteropTest {

    private static final String PYTHON = "/usr/bin/python3";

    @TempDir
    Path dir;

    @BeforeAll
    static void requireNumpy() {
        boolean available;
        try {
            available = run(List.of(PYTHON, "-c", "import numpy")).exit == 0;
        } catch (IOException e) {
            available = false;
        }
        Assumptions.assumeTrue(available, "numpy interop tests need " + PYTHON + " with numpy");
    }

    /** Values exact in every dtype below (bool: non-zero is true). */
    private static final double[] VALUES = {0, 1, -2, 3, 100, -128, 6, 7, 8, 9, 10, 11};

    private static final Map<DataType, String> NUMPY = new LinkedHashMap<>();

    static {
        NUMPY.put(DataType.FLOAT, "float32");
        NUMPY.put(DataType.DOUBLE, "float64");
        NUMPY.put(DataType.HALF, "float16");
        NUMPY.put(DataType.LONG, "int64");
        NUMPY.put(DataType.INT, "int32");
        NUMPY.put(DataType.SHORT, "int16");
        NUMPY.put(DataType.BYTE, "int8");
        NUMPY.put(DataType.UBYTE, "uint8");
        NUMPY.put(DataType.BOOL, "bool");
    }

    private static INDArray expected(DataType t) {
        INDArray v = Nd4j.createFromArray(VALUES).reshape(3, 4);
        if (t == DataType.UBYTE) {
            v = Nd4j.createFromArray(VALUES).reshape(3, 4).add(128);
        }
        return t == DataType.BOOL ? v.neq(0) : v.castTo(t);
    }

    private static String numpyValues(DataType t) {
        return t == DataType.UBYTE ? "np.array(VALUES) + 128" : "np.array(VALUES)";
    }

    @Test
    void numpyReadsWhatLoupeWrites() throws IOException {
        StringBuilder checks = new StringBuilder("import numpy as np\nVALUES = " + pyList() + "\n");
        for (Map.Entry<DataType, String> e : NUMPY.entrySet()) {
            Path file = dir.resolve(e.getValue() + ".npy");
            NpyWriter.write(file, expected(e.getKey()).dup('f').transpose().transpose()); // an 'f'-ordered view
            checks.append("a = np.load(")
                    .append(py(file))
                    .append(")\n")
                    .append("e = (")
                    .append(numpyValues(e.getKey()))
                    .append(").astype('")
                    .append(e.getValue())
                    .append("').reshape(3, 4)\n")
                    .append("assert a.dtype == e.dtype and a.shape == e.shape and (a == e).all(), ('")
                    .append(e.getValue())
                    .append("', a)\n");
        }
        Path scalar = dir.resolve("scalar.npy");
        NpyWriter.write(scalar, Nd4j.scalar(DataType.DOUBLE, -0.25));
        checks.append("s = np.load(").append(py(scalar)).append(")\nassert s.shape == () and s == -0.25\n");
        Path empty = dir.resolve("empty.npy");
        NpyWriter.write(empty, Nd4j.create(DataType.FLOAT, new long[] {2, 0}, 'c'));
        checks.append("z = np.load(")
                .append(py(empty))
                .append(")\nassert z.shape == (2, 0) and z.dtype == np.float32\n");
        checks.append("print('ok')\n");
        assertEquals("ok", python(checks.toString()).strip());
    }

    @Test
    void loupeReadsWhatNumpyWrites() throws IOException {
        StringBuilder script = new StringBuilder("import numpy as np\nVALUES = " + pyList() + "\n");
        for (Map.Entry<DataType, String> e : NUMPY.entrySet()) {
            String name = e.getValue();
            script.append("e = (")
                    .append(numpyValues(e.getKey()))
                    .append(").astype('")
                    .append(name)
                    .append("').reshape(3, 4)\n")
                    .append("np.save(")
                    .append(py(dir.resolve(name + ".npy")))
                    .append(", e)\n")
                    .append("np.save(")
                    .append(py(dir.resolve(name + "_f.npy")))
                    .append(", np.asfortranarray(e))\n")
                    .append("with open(")
                    .append(py(dir.resolve(name + "_v2.npy")))
                    .append(", 'wb') as f:\n")
                    .append("    np.lib.format.write_array(f, e, version=(2, 0))\n")
                    .append("with open(")
                    .append(py(dir.resolve(name + "_v3.npy")))
                    .append(", 'wb') as f:\n")
                    .append("    np.lib.format.write_array(f, e, version=(3, 0))\n");
        }
        script.append("np.save(").append(py(dir.resolve("scalar.npy"))).append(", np.float32(1.5))\n");
        script.append("np.save(").append(py(dir.resolve("empty.npy"))).append(", np.zeros((0, 3), dtype=np.int64))\n");
        script.append("np.save(")
                .append(py(dir.resolve("big.npy")))
                .append(", np.arange(100000, dtype=np.float64).reshape(100, 1000))\n");
        script.append("np.save(")
                .append(py(dir.resolve("sliced.npy")))
                .append(", np.arange(60, dtype=np.int32).reshape(3, 4, 5)[:, ::2, 1:])\n");
        python(script.toString());

        for (Map.Entry<DataType, String> e : NUMPY.entrySet()) {
            for (String suffix : new String[] {"", "_f", "_v2", "_v3"}) {
                assertSameValues(expected(e.getKey()), NpyReader.read(dir.resolve(e.getValue() + suffix + ".npy")));
            }
        }
        assertSameValues(Nd4j.scalar(DataType.FLOAT, 1.5f), NpyReader.read(dir.resolve("scalar.npy")));
        assertSameValues(Nd4j.create(DataType.LONG, new long[] {0, 3}, 'c'), NpyReader.read(dir.resolve("empty.npy")));
        assertSameValues(
                Nd4j.createFromArray(range(100000)).reshape(100, 1000), NpyReader.read(dir.resolve("big.npy")));
        INDArray sliced = Nd4j.createFromArray(range(60))
                .castTo(DataType.INT)
                .reshape(3, 4, 5)
                .get(NDArrayIndex.all(), NDArrayIndex.interval(0, 2, 4), NDArrayIndex.interval(1, 5));
        assertSameValues(sliced.dup('c'), NpyReader.read(dir.resolve("sliced.npy")));
    }

    /** A minimal independent safetensors reader in Python (struct + json + numpy) reads our files. */
    @Test
    void independentPythonParserReadsLoupeSafetensors() throws IOException {
        Map<String, INDArray> tensors = new LinkedHashMap<>();
        for (DataType t : NUMPY.keySet()) {
            tensors.put("t." + NUMPY.get(t), expected(t));
        }
        tensors.put("t.bfloat16", expected(DataType.FLOAT).castTo(DataType.BFLOAT16));
        tensors.put("scalar", Nd4j.scalar(DataType.FLOAT, 4.5f));
        Path file = dir.resolve("model.safetensors");
        SafetensorsWriter.write(file, tensors, Map.of("format", "pt"));
        String script =
                """
                import json, struct, numpy as np
                VALUES = %s
                raw = open(%s, 'rb').read()
                n = struct.unpack('<Q', raw[:8])[0]
                assert n %% 8 == 0
                header = json.loads(raw[8:8 + n].decode('utf-8'))
                assert header.pop('__metadata__') == {'format': 'pt'}
                types = {'F64': '<f8', 'F32': '<f4', 'F16': '<f2', 'I64': '<i8', 'I32': '<i4', 'I16': '<i2',
                         'I8': '|i1', 'U8': '|u1', 'BOOL': '|b1', 'BF16': '<u2'}
                data = raw[8 + n:]
                end = 0
                for name, info in header.items():
                    b, e = info['data_offsets']
                    assert b == end
                    end = e
                    a = np.frombuffer(data[b:e], dtype=types[info['dtype']]).reshape(info['shape'])
                    if info['dtype'] == 'BF16':
                        a = (a.astype('<u4') << 16).view('<f4')
                    if name == 'scalar':
                        assert a.shape == () and a == 4.5
                        continue
                    expect = np.array(VALUES) + (128 if info['dtype'] == 'U8' else 0)
                    assert (a.astype('f8').ravel() == (expect != 0 if info['dtype'] == 'BOOL' else expect)).all(), name
                assert end == len(data)
                print(len(header))
                """
                        .formatted(pyList(), py(file));
        assertEquals(Integer.toString(tensors.size()), python(script).strip());
    }

    /** Files laid out the way the reference implementation does (header first, dtype-sorted) read back. */
    @Test
    void loupeReadsSafetensorsBuiltByPython() throws IOException {
        Path file = dir.resolve("py.safetensors");
        String script =
                """
                import json, struct, numpy as np
                arrays = {'b.weight': np.arange(6, dtype='<f4').reshape(2, 3), 'a.bias': np.array([1.5, -2], dtype='<f8'),
                          'ids': np.array([[7]], dtype='<i8'), 'h': np.array([0.5, 2], dtype='<f2'), 'empty': np.zeros((0,), '<i4')}
                names = {'<f4': 'F32', '<f8': 'F64', '<i8': 'I64', '<f2': 'F16', '<i4': 'I32'}
                header, blobs, off = {'__metadata__': {'format': 'np'}}, [], 0
                for k in sorted(arrays, key=lambda k: (-arrays[k].dtype.itemsize, k)):
                    b = arrays[k].tobytes()
                    header[k] = {'dtype': names[arrays[k].dtype.str], 'shape': list(arrays[k].shape), 'data_offsets': [off, off + len(b)]}
                    blobs.append(b)
                    off += len(b)
                h = json.dumps(header, separators=(',', ':')).encode()
                h += b' ' * ((8 - len(h) %% 8) %% 8)
                open(%s, 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
                """
                        .formatted(py(file));
        python(script);
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            assertEquals(Map.of("format", "np"), r.metadata());
            assertSameValues(
                    Nd4j.createFromArray(range(6)).castTo(DataType.FLOAT).reshape(2, 3), r.read("b.weight"));
            assertSameValues(Nd4j.createFromArray(1.5, -2.0), r.read("a.bias"));
            assertSameValues(Nd4j.createFromArray(new long[][] {{7}}), r.read("ids"));
            assertSameValues(Nd4j.createFromArray(0.5f, 2f), r.readFloat("h"));
            assertSameValues(Nd4j.create(DataType.INT, new long[] {0}, 'c'), r.read("empty"));
        }
    }

    // ---------------------------------------------------------------- helpers

    /** 0, 1, ..., n - 1 as exact doubles (ND4J's linspace is not exact). */
    private static double[] range(int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = i;
        }
        return v;
    }

    private static String pyList() {
        List<String> v = new ArrayList<>();
        for (double d : VALUES) {
            v.add(Long.toString((long) d));
        }
        return "[" + String.join(", ", v) + "]";
    }

    private static String py(Path p) {
        return "r'" + p.toAbsolutePath() + "'";
    }

    private String python(String script) throws IOException {
        Result r = run(List.of(PYTHON, "-c", script));
        assertEquals(0, r.exit, () -> "python failed:\n" + r.output + "\nscript:\n" + script);
        return r.output;
    }

    private record Result(int exit, String output) {}

    private static Result run(List<String> command) throws IOException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("timed out: " + command.get(0));
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        return new Result(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }
}
