package dev.loupe.cli;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.analysis.PatchResult;
import dev.loupe.engine.analysis.Patching;
import dev.loupe.engine.analysis.PatchingMetric;
import dev.loupe.engine.io.NpyWriter;
import dev.loupe.engine.loaders.ModelLoader;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.Tokens;
import dev.loupe.engine.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.nd4j.linalg.api.buffer.DataType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./loupe patch}: activation patching of one clean/corrupted pair, the metric of every patch as float32 .npy. */
@Command(
        name = "patch",
        mixinStandardHelpOptions = true,
        description = {
            "Activation patching: the logit difference of every patch of --target as float32 .npy.",
            "Runs the corrupted prompt with one slice of the clean run's activation patched in, for every layer and"
                    + " position (resid_pre, resid_mid, resid_post, attn_out, mlp_out: [n_layers, n_pos]) or every head"
                    + " (head_z: each head's z at every position, [n_layers, n_heads]); the value is"
                    + " logits[last, answer] - logits[last, wrong] of the patched run (0 = corrupted, 1 = clean with"
                    + " --normalize). Patches run batched, many per forward pass."
        })
final class PatchCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "PATH", description = "the model (see ./loupe --help)")
    String model;

    @Option(
            names = "--clean",
            paramLabel = "IDS",
            converter = TokenIds.Converter.class,
            description = "the clean prompt's token ids (\"1 5 9\")")
    TokenIds clean;

    @Option(
            names = "--corrupt",
            paramLabel = "IDS",
            converter = TokenIds.Converter.class,
            description = "the corrupted prompt's token ids, as many as --clean")
    TokenIds corrupt;

    @Option(
            names = "--prompt",
            paramLabel = "TEXT",
            description = "the clean prompt as text instead of --clean (BOS prepended, as TransformerLens does)")
    String prompt;

    @Option(
            names = "--corrupt-prompt",
            paramLabel = "TEXT",
            description = "the corrupted prompt as text instead of --corrupt; must give as many tokens as --prompt")
    String corruptPrompt;

    @Option(
            names = "--tokenizer",
            paramLabel = "PATH",
            description = "the tokenizer for the text options (default: the model's own, as for logits --prompt)")
    Path tokenizer;

    @Option(
            names = "--target",
            required = true,
            paramLabel = "T",
            completionCandidates = Targets.class,
            description = "what to patch: resid_pre, resid_mid, resid_post, attn_out, mlp_out (by layer and position),"
                    + " head_z (each head at every position); also head_z_by_pos, head_q|k|v|pattern[_by_pos]")
    String target;

    @Option(
            names = "--answer",
            required = true,
            paramLabel = "A",
            description = "the correct next token: an id, or (with a tokenizer) text that is one token")
    String answer;

    @Option(
            names = "--wrong",
            required = true,
            paramLabel = "W",
            description = "the wrong next token the answer is compared with: an id, or one token of text")
    String wrong;

    @Option(names = "--out", required = true, paramLabel = "F.npy", description = "the .npy file to write")
    Path out;

    @Option(
            names = "--normalize",
            description = "(patched - corrupted) / (clean - corrupted) instead of the raw logit difference")
    boolean normalize;

    @Option(
            names = "--memory",
            paramLabel = "MIB",
            defaultValue = "1024",
            description = "activation memory of one batched forward pass, in MiB; default: ${DEFAULT-VALUE}")
    long memoryMib;

    static final class Targets extends java.util.ArrayList<String> {
        Targets() {
            super(Patching.TARGETS);
        }
    }

    @Override
    public Integer call() {
        if (!Patching.TARGETS.contains(target))
            throw new LoupeException(
                    "patch: --target '" + target + "' is not one of " + String.join(", ", Patching.TARGETS));
        if (memoryMib < 1) throw new LoupeException("patch: --memory must be >= 1 MiB, got " + memoryMib);
        Path where = ModelLoader.locate(model);
        Tokenizer tok =
                prompt != null || corruptPrompt != null || !isId(answer) || !isId(wrong) ? tokenizer(where) : null;
        int[] cleanIds = ids("--clean", clean, "--prompt", prompt, tok);
        int[] corruptIds = ids("--corrupt", corrupt, "--corrupt-prompt", corruptPrompt, tok);
        if (cleanIds.length != corruptIds.length)
            throw new LoupeException("patch: the clean prompt has " + cleanIds.length + " tokens, the corrupted "
                    + corruptIds.length + "; they must be the same length");
        HookedTransformer m = ModelLoader.load(where.toString());
        int vocab = m.config().dVocab();
        int a = tokenId("--answer", answer, tok, vocab), w = tokenId("--wrong", wrong, tok, vocab);
        checkIds("--clean", cleanIds, vocab);
        checkIds("--corrupt", corruptIds, vocab);
        Patching patching = Patching.of(m, Tokens.of(cleanIds), Tokens.of(corruptIds), PatchingMetric.logitDiff(a, w))
                .memoryBudget(memoryMib << 20)
                .progress(true);
        double cleanValue = patching.cleanValue(), corruptValue = patching.corruptedValue();
        if (normalize) patching = patching.normalized();
        PatchResult r = patching.target(target);
        NpyWriter.write(out, r.values().castTo(DataType.FLOAT).dup('c'));
        System.out.printf(
                Locale.ROOT,
                "logit difference (answer %d, wrong %d): clean %.4f, corrupted %.4f%n",
                a,
                w,
                cleanValue,
                corruptValue);
        System.out.println("wrote " + out + " " + Arrays.toString(r.values().shape()) + " float32 ["
                + String.join(", ", r.axes()) + "] " + r.metric());
        return 0;
    }

    private Tokenizer tokenizer(Path where) {
        return PromptOptions.tokenizer("patch", tokenizer, where);
    }

    private static int[] ids(String idsOption, TokenIds ids, String textOption, String text, Tokenizer tok) {
        if (ids != null && text != null)
            throw new LoupeException("patch: give " + idsOption + " or " + textOption + ", not both");
        if (ids != null) return ids.ids();
        if (text == null) throw new LoupeException("patch: " + idsOption + " or " + textOption + " is required");
        return tok.toTokens(text);
    }

    private static boolean isId(String s) {
        return s.matches("-?\\d+");
    }

    /** An id as given, or text that the tokenizer makes one token (TransformerLens's to_single_token). */
    private static int tokenId(String option, String value, Tokenizer tok, int vocab) {
        int id;
        if (isId(value)) {
            id = Integer.parseInt(value);
        } else {
            int[] ids = tok.encode(value, true);
            if (ids.length != 1)
                throw new LoupeException("patch: " + option + " '" + value + "' is " + ids.length + " tokens "
                        + Arrays.toString(ids) + ", expected one");
            id = ids[0];
        }
        if (id < 0 || id >= vocab)
            throw new LoupeException(
                    "patch: " + option + " " + id + " is outside the model's vocabulary 0.." + (vocab - 1));
        return id;
    }

    private static void checkIds(String option, int[] ids, int vocab) {
        for (int i = 0; i < ids.length; i++)
            if (ids[i] < 0 || ids[i] >= vocab)
                throw new LoupeException("patch: " + option + " token " + ids[i] + " at position " + i
                        + " is outside the model's vocabulary 0.." + (vocab - 1));
    }
}
