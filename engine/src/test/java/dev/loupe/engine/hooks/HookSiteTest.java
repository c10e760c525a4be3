package dev.loupe.engine.hooks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.ModelConfig.Normalization;
import dev.loupe.engine.model.TestModels;
import dev.loupe.engine.model.Tokens;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The hook points are declared once ({@link HookSite}) and listed by running the forward pass; these
 * tests hold that list to docs/hooks.md's table and to what a real pass caches.
 */
class HookSiteTest {
    private static final int BATCH = 2, POS = 5;

    /** One row of docs/hooks.md's table: name, shape, the "Exists" column, what it holds. */
    private record Row(String name, String shape, String exists, String holds) {}

    private static List<Row> docsTable() throws IOException {
        Path doc = Files.exists(Path.of("../docs/hooks.md")) ? Path.of("../docs/hooks.md") : Path.of("docs/hooks.md");
        Pattern row =
                Pattern.compile("^\\| `([a-z_.{}0-9]+)`\\s*\\| `(\\[[a-z_, 0-9*]+\\])`\\s*\\|(.*)\\|(.*)\\|\\s*$");
        List<Row> rows = new ArrayList<>();
        for (String line : Files.readAllLines(doc)) {
            Matcher m = row.matcher(line);
            if (m.matches())
                rows.add(new Row(
                        m.group(1), m.group(2), m.group(3).trim(), m.group(4).trim()));
        }
        return rows;
    }

    @Test
    void docsTableListsEveryDeclaredHookPointInOrder() throws IOException {
        List<Row> table = docsTable();
        List<String> documented = table.stream()
                .map(r -> r.name() + " " + r.shape() + ": " + r.holds())
                .toList();
        List<String> declared = Arrays.stream(HookSite.values())
                .map(s -> s.template() + " " + s.shape() + ": " + s.holds())
                .toList();
        assertEquals(declared, documented, "docs/hooks.md's table against HookSite (name, shape, holds)");
        for (Row r : table) assertTrue(!r.exists().isEmpty(), r.name() + " says when it exists");
    }

    /** A config with every width different, so that a shape check cannot pass by coincidence. */
    private static ModelConfig distinctWidths(ModelConfig c) {
        return c.toBuilder().dModel(13).dMlp(17).dVocab(19).useAttnResult(true).build();
    }

    @Test
    void everyHookPointOfEveryArchitectureIsDeclaredWithItsShape() {
        Set<HookSite> reached = EnumSet.noneOf(HookSite.class);
        Map<String, ModelConfig> configs = new java.util.LinkedHashMap<>(TestModels.all("float32"));
        configs.put(
                "gpt2-folded",
                TestModels.all("float32").get("gpt2-like").toBuilder()
                        .normalization(Normalization.LAYER_NORM_PRE)
                        .build());
        for (var e : configs.entrySet()) {
            ModelConfig c = distinctWidths(e.getValue());
            HookedTransformer m = TestModels.model(c, 1);
            int[] a = {1, 2, 3, 4, 5}, b = {5, 4, 3, 2, 1};
            ActivationCache cache =
                    m.runWithCache(Tokens.of(a, b), ActivationFilter.all()).cache();
            assertEquals(m.hookNames(), new ArrayList<>(cache.names()), e.getKey() + ": listed = cached, in order");
            for (String name : m.hookNames()) {
                long[] shape = cache.get(name).shape();
                HookSite site = siteOf(name, shape, c);
                reached.add(site);
                assertArrayEquals(shapeOf(site, c), shape, e.getKey() + " " + name);
            }
        }
        assertEquals(EnumSet.allOf(HookSite.class), reached, "every declared hook point is some model's");
    }

    @Test
    void whichHookPointsExistFollowsTheArchitecture() {
        Map<String, ModelConfig> c = TestModels.all("float32");
        List<String> gpt2 = HookedTransformer.hookNames(c.get("gpt2-like")),
                llama = HookedTransformer.hookNames(c.get("llama-like")),
                neox = HookedTransformer.hookNames(c.get("neox-like")),
                attnOnly = HookedTransformer.hookNames(c.get("attn-only")),
                gemma2 = HookedTransformer.hookNames(c.get("gemma2-like"));
        assertTrue(gpt2.contains("hook_pos_embed") && !llama.contains("hook_pos_embed"));
        assertTrue(llama.contains("blocks.0.attn.hook_rot_q") && !gpt2.contains("blocks.0.attn.hook_rot_q"));
        assertTrue(gpt2.contains("blocks.0.hook_resid_mid")
                && !neox.contains("blocks.0.hook_resid_mid")
                && !attnOnly.contains("blocks.0.hook_resid_mid"));
        assertTrue(attnOnly.stream().noneMatch(n -> n.contains("mlp") || n.contains("ln")));
        assertTrue(attnOnly.contains("blocks.1.attn.hook_result") && !gpt2.contains("blocks.1.attn.hook_result"));
        assertTrue(llama.contains("blocks.1.mlp.hook_pre_linear") && !gpt2.contains("blocks.1.mlp.hook_pre_linear"));
        assertTrue(gemma2.contains("blocks.1.ln2_post.hook_normalized")
                && !llama.contains("blocks.1.ln2_post.hook_scale"));
        assertTrue(HookedTransformer.hookNames(c.get("gpt2-like").toBuilder()
                        .normalization(Normalization.LAYER_NORM_PRE)
                        .build())
                .contains("ln_final.hook_scale"));
        assertEquals("blocks.0.hook_resid_pre", gpt2.get(2));
        assertEquals("unembed.hook_out", gpt2.get(gpt2.size() - 1));
        assertEquals(2 + 2 * 17 + 4, gpt2.size(), String.join("\n", gpt2));
    }

    /** The declared kind of a hook point: by name, and by shape where two kinds share a name. */
    private static HookSite siteOf(String name, long[] shape, ModelConfig c) {
        int layer = HookNames.layerOf(name);
        List<HookSite> named = Arrays.stream(HookSite.values())
                .filter(s -> s.name(Math.max(layer, 0)).equals(name))
                .toList();
        if (named.isEmpty()) throw new AssertionError("no HookSite for " + name);
        return named.stream()
                .filter(s -> Arrays.equals(shapeOf(s, c), shape))
                .findFirst()
                .orElse(named.get(0));
    }

    private static long[] shapeOf(HookSite site, ModelConfig c) {
        String[] dims = site.shape().substring(1, site.shape().length() - 1).split(",\\s*");
        return Arrays.stream(dims)
                .mapToLong(d -> Arrays.stream(d.split("\\*"))
                        .mapToLong(f -> dim(site, f, c))
                        .reduce(1, (x, y) -> x * y))
                .toArray();
    }

    private static long dim(HookSite site, String d, ModelConfig c) {
        return switch (d) {
            case "batch" -> BATCH;
            case "pos", "q_pos", "k_pos" -> POS;
            case "d_model" -> c.dModel();
            case "head" -> c.nHeads();
            case "kv_head" -> c.nKvHeads();
            case "d_head" -> c.dHead();
            case "d_mlp" -> c.dMlp();
            case "d_vocab" -> c.dVocab();
            case "1" -> 1;
            default -> throw new AssertionError(site + ": unknown dimension " + d);
        };
    }
}
