package dev.loupe.cli.sae;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.loupe.cli.CliRun;
import dev.loupe.saes.Architecture;
import dev.loupe.saes.Fixtures;
import dev.loupe.saes.PythonReference;
import dev.loupe.saes.TestSaes;
import dev.loupe.saes.io.SaeLensFolder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SaeEvalAndDashboardCommandsTest {
    @TempDir
    Path tmp;

    @Test
    void evalPrintsTheTableAndAnExactSaeRecoversAllOfTheLoss() {
        Path corpus = tmp.resolve("corpus.npy"), sae = tmp.resolve("exact");
        CliRun.output(
                "sae", "corpus", "--task", "induction", "--sequences", "16", "--seed", "3", "--out", corpus.toString());
        SaeLensFolder.write(TestSaes.exact(128, "blocks.0.hook_resid_post"), sae);
        String out = CliRun.output(
                "sae",
                "eval",
                "--sae",
                sae.toString(),
                "--model",
                "attn-only-2l",
                "--corpus",
                corpus.toString(),
                "--bos",
                "0",
                "--context",
                "64",
                "--batch",
                "8",
                "--quiet");
        assertTrue(
                out.contains("ce_loss_score") && out.contains("explained_variance") && out.contains("kl_div_score"),
                out);
        assertTrue(out.contains("CE loss recovered 1.0000"), out);
    }

    @Test
    void dashboardWritesAnOfflinePage() throws Exception {
        String hook = "blocks.1.hook_resid_post";
        Path store = Fixtures.store(tmp, List.of(hook), 16), sae = tmp.resolve("sae"), page = tmp.resolve("page.html");
        SaeLensFolder.write(TestSaes.random(Architecture.TOPK, 32, 64, 6, hook, 2), sae);
        CliRun.output(
                "sae",
                "dashboard",
                "--sae",
                sae.toString(),
                "--store",
                store.toString(),
                "--features",
                "1,5",
                "--out",
                page.toString());
        String html = Files.readString(page);
        assertTrue(html.contains("Feature 1") && html.contains("Feature 5") && html.contains("Plotly"), "page");
    }

    @Test
    void benchSaeEndsWithTheRatio() {
        assumeTrue(PythonReference.available(), "no python3 with torch");
        String out = CliRun.output(
                "bench",
                "sae",
                "--d-in",
                "32",
                "--d-sae",
                "256",
                "--k",
                "4",
                "--batch",
                "128",
                "--steps",
                "2",
                "--warmup",
                "1",
                "--stream-steps",
                "3",
                "--vs-torch",
                "--python",
                PythonReference.PYTHON);
        String last = out.strip().substring(out.strip().lastIndexOf('\n') + 1);
        assertTrue(last.matches("ratio_vs_torch=\\d+\\.\\d{3}"), out);
        assertTrue(out.contains("waiting for the batch"), out);
    }
}
