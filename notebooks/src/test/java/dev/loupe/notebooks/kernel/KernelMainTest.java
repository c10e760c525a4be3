package dev.loupe.notebooks.kernel;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.LoupeException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.dflib.jjava.jupyter.kernel.KernelConnectionProperties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KernelMainTest {

    @Test
    void kernelListensOnlyOnLocalhost() {
        Path f = Path.of("conn.json");
        assertDoesNotThrow(() -> KernelMain.requireLocal(props("127.0.0.1"), f));
        assertDoesNotThrow(() -> KernelMain.requireLocal(props("localhost"), f));
        LoupeException e = assertThrows(LoupeException.class, () -> KernelMain.requireLocal(props("0.0.0.0"), f));
        assertTrue(e.getMessage().contains("only on localhost"), e.getMessage());
    }

    @Test
    void badConnectionFilesAreNamed(@TempDir Path tmp) throws Exception {
        LoupeException missing =
                assertThrows(LoupeException.class, () -> KernelMain.runKernel(tmp.resolve("nope.json")));
        assertTrue(missing.getMessage().contains("nope.json"), missing.getMessage());
        Path bad = tmp.resolve("bad.json");
        Files.writeString(bad, "not json");
        LoupeException notJson = assertThrows(LoupeException.class, () -> KernelMain.runKernel(bad));
        assertTrue(notJson.getMessage().contains("not a Jupyter connection file"), notJson.getMessage());
    }

    private static KernelConnectionProperties props(String ip) {
        return new KernelConnectionProperties(ip, 1, 2, 3, 4, 5, "tcp", "hmac-sha256", "k");
    }
}
