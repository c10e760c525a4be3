package dev.loupe.saes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.engine.io.NpyReader;
import dev.loupe.engine.io.NpyWriter;
import dev.loupe.saes.io.SaeLensFolder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Loupe's SAEs against a PyTorch re-implementation of SAELens's encode/decode (saelens_reference.py):
 * folders made in Python are read by Loupe and give the same features and reconstructions within
 * 1e-5, and folders Loupe writes load in the reference (strict keys and shapes) and give Loupe's numbers.
 */
class SaeLensReferenceTest {
    static final int D_IN = 48, D_SAE = 192, ROWS = 64;
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path tmp;

    static Path x;

    @BeforeAll
    static void input() {
        assumeTrue(PythonReference.available(), PythonReference.PYTHON + " with torch and numpy is absent; skipping");
        x = tmp.resolve("x.npy");
        Nd4j.getRandom().setSeed(7);
        NpyWriter.write(x, Nd4j.randn(DataType.FLOAT, ROWS, D_IN).muli(1.5).addi(0.2));
    }

    /** Architecture and cfg.json overrides of every case made in Python. */
    static List<Map<String, Object>> cases() {
        List<Map<String, Object>> c = new ArrayList<>();
        c.add(Map.of("architecture", "standard"));
        c.add(Map.of("architecture", "standard", "apply_b_dec_to_input", false));
        c.add(Map.of("architecture", "topk", "k", 12));
        c.add(Map.of("architecture", "topk", "k", 12, "apply_b_dec_to_input", false));
        c.add(Map.of("architecture", "topk", "k", 7, "rescale_acts_by_decoder_norm", true));
        c.add(Map.of(
                "architecture", "topk", "k", 7, "rescale_acts_by_decoder_norm", true, "apply_b_dec_to_input", false));
        c.add(Map.of("architecture", "jumprelu"));
        c.add(Map.of("architecture", "jumprelu", "apply_b_dec_to_input", false));
        c.add(Map.of("architecture", "gated"));
        c.add(Map.of("architecture", "standard", "normalize_activations", "constant_norm_rescale"));
        c.add(Map.of("architecture", "topk", "k", 9, "normalize_activations", "layer_norm"));
        c.add(Map.of("architecture", "jumprelu", "normalize_activations", "expected_average_only_in"));
        // A config of SAELens 5: no version, hook_point, topk through activation_fn_str and its kwargs.
        Map<String, Object> old = new LinkedHashMap<>();
        old.put("architecture", "topk");
        old.put("metadata", null);
        old.put("reshape_activations", null);
        old.put("hook_point", "blocks.3.hook_resid_pre");
        old.put("activation_fn_str", "topk");
        old.put("activation_fn_kwargs", Map.of("k", 5));
        old.put("normalize_activations", false);
        c.add(old);
        return c;
    }

    @Test
    void pythonMadeFoldersGiveTheReferenceFeaturesAndReconstructions() throws Exception {
        List<Map<String, Object>> cases = cases();
        List<Object> jobs = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            Map<String, Object> overrides = new LinkedHashMap<>(cases.get(i));
            String arch = (String) overrides.get("architecture");
            if (overrides.containsKey("hook_point")) overrides.put("architecture", null); // SAELens 5 had none for topk
            jobs.add(List.of(tmp.resolve("py-" + i).toString(), arch, D_IN, D_SAE, i, overrides));
        }
        PythonReference.run(tmp, "make", jobFile("make.json", jobs).toString());
        List<Sae> saes = new ArrayList<>();
        List<Path> dirs = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            dirs.add(tmp.resolve("py-" + i));
            saes.add(SaeLensFolder.read(dirs.get(i)));
        }
        Sae old = saes.get(saes.size() - 1);
        assertEquals(Architecture.TOPK, old.config().architecture());
        assertEquals(5, old.config().k());
        assertEquals("blocks.3.hook_resid_pre", old.config().hookName());
        compareWithReference(saes, dirs, cases.stream().map(Object::toString).toList());
    }

    @Test
    void loupeWrittenFoldersLoadInTheReferenceUnchanged() throws Exception {
        Nd4j.getRandom().setSeed(3);
        List<Sae> saes = new ArrayList<>();
        List<Path> dirs = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (Architecture arch :
                List.of(Architecture.STANDARD, Architecture.TOPK, Architecture.JUMPRELU, Architecture.GATED))
            for (boolean applyBDec : new boolean[] {true, false}) {
                SaeConfig cfg = SaeConfig.of(arch, D_IN, D_SAE, arch == Architecture.TOPK ? 10 : 0)
                        .withApplyBDecToInput(applyBDec)
                        .withRescaleActsByDecoderNorm(arch == Architecture.TOPK && !applyBDec)
                        .withHookName("blocks.1.hook_resid_post");
                Map<String, INDArray> t = new LinkedHashMap<>();
                BaseSae.expectedShapes(cfg)
                        .forEach((name, shape) ->
                                t.put(name, Nd4j.randn(DataType.FLOAT, shape).muli(name.startsWith("W") ? 0.15 : 0.1)));
                if (arch == Architecture.JUMPRELU)
                    t.put("threshold", Nd4j.rand(DataType.FLOAT, D_SAE).muli(0.3));
                Sae sae = Saes.create(cfg, t, "test");
                Path dir = tmp.resolve("loupe-" + dirs.size());
                SaeLensFolder.write(sae, dir);
                saes.add(sae);
                dirs.add(dir);
                names.add("Loupe-written " + arch + " apply_b_dec_to_input=" + applyBDec);
                // Loupe reads back exactly what it wrote
                Sae back = SaeLensFolder.read(dir);
                assertEquals(cfg.withMetadata("sae_lens_version", SaeLensFolder.SAE_LENS_VERSION), back.config());
                for (String name : sae.stateDict().keySet())
                    assertEquals(sae.stateDict().get(name), back.stateDict().get(name), name);
            }
        compareWithReference(saes, dirs, names);
    }

    private static Path jobFile(String name, Object jobs) throws Exception {
        Path f = tmp.resolve(name);
        Files.writeString(f, JSON.writeValueAsString(jobs));
        return f;
    }

    private static void compareWithReference(List<Sae> saes, List<Path> dirs, List<String> names) throws Exception {
        List<Object> jobs = new ArrayList<>();
        for (int i = 0; i < dirs.size(); i++) {
            Path d = dirs.get(i);
            jobs.add(List.of(d.toString(), x.toString(), d + "/f.npy", d + "/r.npy"));
        }
        String out = PythonReference.run(tmp, "run", jobFile("run.json", jobs).toString());
        INDArray input = NpyReader.read(x);
        for (int i = 0; i < saes.size(); i++) {
            Sae sae = saes.get(i);
            String what = names.get(i);
            assertTrue(
                    out.contains("\"folder\": \"" + dirs.get(i) + "\", \"architecture\": \""
                            + sae.config().architecture().saeLensName() + "\""),
                    out);
            INDArray features = sae.encode(input), recon = sae.decode(features);
            double fd = maxAbsDiff(features, NpyReader.read(dirs.get(i).resolve("f.npy"))),
                    rd = maxAbsDiff(recon, NpyReader.read(dirs.get(i).resolve("r.npy")));
            System.out.printf(
                    "%-100s features %.2e  reconstruction %.2e  (max |reconstruction| %.1f)%n",
                    what, fd, rd, recon.amaxNumber().doubleValue());
            assertTrue(fd <= 1e-5, what + ": features differ by " + fd);
            assertTrue(rd <= 1e-5, what + ": reconstructions differ by " + rd);
            assertTrue(features.neq(0).castTo(DataType.FLOAT).sumNumber().doubleValue() > 0, what + ": all 0");
            double forward =
                    maxAbsDiff(sae.forward(input), NpyReader.read(dirs.get(i).resolve("r.npy")));
            assertTrue(forward <= 1e-5, what + ": forward differs by " + forward);
        }
    }

    static double maxAbsDiff(INDArray a, INDArray b) {
        assertEquals(Arrays.toString(a.shape()), Arrays.toString(b.shape()));
        return a.castTo(DataType.DOUBLE)
                .sub(b.castTo(DataType.DOUBLE))
                .amaxNumber()
                .doubleValue();
    }
}
