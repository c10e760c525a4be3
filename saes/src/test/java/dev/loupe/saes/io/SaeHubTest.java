package dev.loupe.saes.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hub.HubClient;
import dev.loupe.engine.hub.HubSettings;
import dev.loupe.saes.Architecture;
import dev.loupe.saes.Sae;
import dev.loupe.saes.TestSaes;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SAELens folders in a Hugging Face repository, through the engine's Hub client, from a local fake Hub. */
class SaeHubTest {
    static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";

    @TempDir
    Path tmp;

    @Test
    void loadsAFolderOfARepositoryThroughTheCache() throws Exception {
        Sae sae = TestSaes.random(Architecture.JUMPRELU, 16, 48, 0, "blocks.3.hook_resid_pre", 4);
        Path local = tmp.resolve("local");
        SaeLensFolder.write(sae, local);
        Map<String, byte[]> files = new LinkedHashMap<>();
        for (String f : new String[] {SaeLensFolder.CONFIG, SaeLensFolder.WEIGHTS})
            files.put("/org/saes/resolve/main/blocks.3.hook_resid_pre/" + f, Files.readAllBytes(local.resolve(f)));
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        int[] requests = {0};
        server.createContext("/", ex -> {
            requests[0]++;
            String path = ex.getRequestURI().getPath().replace("/" + COMMIT + "/", "/main/");
            byte[] body = files.get(path);
            if (body == null) {
                ex.getResponseHeaders().set("X-Error-Code", "EntryNotFound");
                ex.sendResponseHeaders(404, -1);
                ex.close();
                return;
            }
            ex.getResponseHeaders().set("X-Repo-Commit", COMMIT);
            ex.getResponseHeaders().set("ETag", "\"" + gitBlobSha1(body) + "\"");
            if (ex.getRequestMethod().equals("HEAD")) {
                ex.getResponseHeaders().set("Content-Length", Integer.toString(body.length));
                ex.sendResponseHeaders(200, -1);
            } else {
                ex.sendResponseHeaders(200, body.length);
                ex.getResponseBody().write(body);
            }
            ex.close();
        });
        server.start();
        try {
            URI endpoint = URI.create("http://127.0.0.1:" + server.getAddress().getPort());
            HubClient client = new HubClient(
                    HubSettings.of(tmp.resolve("hf-cache"), endpoint).withProgressBars(false));
            Sae loaded = SaeHub.load(client, "org/saes", "blocks.3.hook_resid_pre");
            assertEquals(sae.config().architecture(), loaded.config().architecture());
            assertEquals(sae.stateDict().get("threshold"), loaded.stateDict().get("threshold"));
            assertEquals("blocks.3.hook_resid_pre", loaded.config().hookName());
            int afterFirst = requests[0];
            SaeHub.load(client, "org/saes", "blocks.3.hook_resid_pre/"); // from the cache now
            assertTrue(requests[0] <= afterFirst + 2, "the second load should come from the cache");
            LoupeException missing = assertThrows(
                    LoupeException.class, () -> SaeHub.load(client, "org/saes", "blocks.4.hook_resid_pre"));
            assertTrue(missing.getMessage().contains("blocks.4.hook_resid_pre/cfg.json"), missing.getMessage());
        } finally {
            server.stop(0);
        }
    }

    static String gitBlobSha1(byte[] content) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-1");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        sha.update(("blob " + content.length + "\0").getBytes());
        sha.update(content);
        return HexFormat.of().formatHex(sha.digest());
    }
}
