package dev.loupe.notebooks.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KernelSpecTest {

    @Test
    void launcherSpecCallsTheRepositoryLauncherWithMessageInterrupts(@TempDir Path tmp) throws Exception {
        Path dir = new JupyterLauncher(tmp.resolve("repo")).kernelSpec().writeTo(tmp.resolve("jupyter"));
        assertEquals(tmp.resolve("jupyter/kernels/loupe"), dir);
        JsonNode spec = new ObjectMapper().readTree(dir.resolve("kernel.json").toFile());
        assertEquals(tmp.resolve("repo/loupe").toString(), spec.at("/argv/0").asText());
        assertEquals("kernel", spec.at("/argv/1").asText());
        assertEquals("{connection_file}", spec.at("/argv/2").asText());
        assertEquals("message", spec.path("interrupt_mode").asText());
        assertEquals("Loupe (Java)", spec.path("display_name").asText());
        assertEquals("PASSIVE", spec.at("/env/OMP_WAIT_POLICY").asText());
    }

    @Test
    void directSpecRunsJava() {
        KernelSpec s = KernelSpec.direct("/usr/bin/java", "a.jar:b.jar", java.util.List.of("-Xmx1g"), Map.of());
        assertEquals(
                java.util.List.of(
                        "/usr/bin/java", "-Xmx1g", "-cp", "a.jar:b.jar", "dev.loupe.notebooks.kernel.KernelMain"),
                s.command());
    }
}
