package dev.loupe.cli;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.tokenizer.Tokenizer;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --tokens} or {@code --prompt} (through {@code --tokenizer} or the model's own): the input of logits and generate. */
final class PromptOptions {
    @Option(
            names = "--tokens",
            paramLabel = "IDS",
            converter = TokenIds.Converter.class,
            description = "token ids, separated by spaces or commas (\"1 5 9\")")
    TokenIds tokens;

    @Option(
            names = "--prompt",
            paramLabel = "TEXT",
            description =
                    "text instead of --tokens, through the model's tokenizer; BOS is prepended as TransformerLens does")
    String prompt;

    @Option(
            names = "--tokenizer",
            paramLabel = "PATH",
            description = "the tokenizer for --prompt, a path or an embedded model's name (default: the model's own: in"
                    + " its folder, tokenizer.bin beside a llama2.c .bin, or an embedded text model's)")
    Path tokenizer;

    /** The prompt's token ids: --tokens as given, or --prompt through the tokenizer (BOS prepended). */
    int[] ids(String command, Path model) {
        if (tokens != null) {
            if (prompt != null) throw new LoupeException(command + ": give --tokens or --prompt, not both");
            return tokens.ids();
        }
        if (prompt == null) throw new LoupeException(command + ": --tokens or --prompt is required");
        return tokenizer(command, model).toTokens(prompt);
    }

    /** --tokenizer, else the model's own (an embedded text model's, its folder's, or a tokenizer.bin beside a .bin). */
    Tokenizer tokenizer(String command, Path model) {
        return tokenizer(command, tokenizer, model);
    }

    /** {@code explicit} when given, else the model's own tokenizer; the error names {@code command}. */
    static Tokenizer tokenizer(String command, Path explicit, Path model) {
        ModelTokenizer.Found found = ModelTokenizer.find(explicit, model);
        if (found == null)
            throw new LoupeException(command + ": --prompt needs a tokenizer: none found "
                    + (ModelTokenizer.isZooName(model)
                            ? "for the embedded " + model + " (its tokens are plain ids)"
                            : "in " + ModelTokenizer.folderOf(model))
                    + "; pass --tokenizer PATH or use --tokens");
        return found.tokenizer();
    }
}
