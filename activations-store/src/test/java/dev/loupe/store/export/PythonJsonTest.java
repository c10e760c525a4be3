package dev.loupe.store.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.loupe.store.StoreDType;
import dev.loupe.store.read.ActivationStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The JSON an export writes is laid out as Python's {@code json} module lays it out: Debian's
 * python3 re-serializes each text ({@code json.dumps(json.loads(text))}, with {@code indent=2} for
 * the files) and must get the same bytes.
 */
class PythonJsonTest {
    @TempDir
    Path tmp;

    @Test
    void pythonsJsonModuleWritesTheSameBytes() throws Exception {
        assumeTrue(OtherReadersTest.runs(List.of("/usr/bin/python3", "-c", "import json")), "no /usr/bin/python3");
        String info, state, saelensMeta, parquetMeta;
        try (ActivationStore s = ActivationStore.open(ExportFixtures.store(StoreDType.F32))) {
            ExportPlan plan =
                    StoreExport.plan(s, ExportFormat.SAELENS, ExportOptions.defaults(), new java.util.ArrayList<>());
            info = SaeLensExport.features(plan).datasetInfoJson();
            state = SaeLensExport.stateJson(List.of(Path.of("data-00000-of-00001.arrow")), "0123456789abcdef");
            saelensMeta = SaeLensExport.features(plan).schemaMetadata().get("huggingface");
            parquetMeta = ParquetExport.features(plan.withBuffers(ExportPlan.Buffers.DEFAULT))
                    .schemaMetadata()
                    .get("huggingface");
        }
        String script =
                """
                import json, sys
                for path, indent in zip(sys.argv[1:], [2, 2, None, None]):
                    text = open(path).read()
                    again = json.dumps(json.loads(text), indent=indent)
                    print("same" if again == text else "DIFFERENT " + path + ":\\n" + again)
                """;
        Path py = tmp.resolve("check.py");
        Files.writeString(py, script);
        List<String> cmd = new java.util.ArrayList<>(List.of("/usr/bin/python3", py.toString()));
        int i = 0;
        for (String text : List.of(info, state, saelensMeta, parquetMeta)) {
            Path f = tmp.resolve("j" + i++);
            Files.writeString(f, text);
            cmd.add(f.toString());
        }
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        assertEquals(0, p.waitFor(), out);
        assertEquals("same\nsame\nsame\nsame", out);
    }
}
