package dev.loupe.saes.io;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.hub.HubClient;
import dev.loupe.engine.hub.RepoRef;
import dev.loupe.saes.Sae;
import java.nio.file.Path;

/**
 * SAELens SAEs from the Hugging Face Hub: {@code cfg.json} and {@code sae_weights.safetensors} of a
 * folder in a repository, through the engine's Hub client and cache (shared with Python's
 * huggingface_hub), as SAELens's {@code sae_lens_huggingface_loader} fetches them.
 * <pre>{@code
 * Sae sae = SaeHub.load("jbloom/GPT2-Small-SAEs-Reformatted", "blocks.8.hook_resid_pre");
 * }</pre>
 */
public final class SaeHub {
    private SaeHub() {}

    /** With a client configured from the environment ({@code HF_HOME}, {@code HF_ENDPOINT}, {@code HF_TOKEN}, ...). */
    public static Sae load(String repo, String folder) {
        return load(HubClient.fromEnvironment(System.getenv()), repo, folder);
    }

    /** {@code repo} may carry {@code @revision}; {@code folder} is the SAE's folder in it ("" or "." for the root). */
    public static Sae load(HubClient client, String repo, String folder) {
        RepoRef ref = RepoRef.parse(repo);
        String prefix = folder == null || folder.isEmpty() || folder.equals(".") ? "" : stripSlashes(folder) + "/";
        Path cfg = client.downloadFile(ref, prefix + SaeLensFolder.CONFIG);
        Path weights = client.downloadFile(ref, prefix + SaeLensFolder.WEIGHTS);
        if (!weights.getParent().equals(cfg.getParent()))
            throw new LoupeException("repository '" + repo + "' moved while downloading folder '" + folder
                    + "' (its config and weights are of different commits); try again");
        return SaeLensFolder.read(cfg.getParent());
    }

    private static String stripSlashes(String s) {
        int a = 0, b = s.length();
        while (a < b && s.charAt(a) == '/') a++;
        while (b > a && s.charAt(b - 1) == '/') b--;
        return s.substring(a, b);
    }
}
