package dev.loupe.cli;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.engine.tokenizer.Tokenizers;
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
            description = "the tokenizer for --prompt (default: the one in the model's folder, or tokenizer.bin beside"
                    + " a llama2.c .bin)")
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

    /** --tokenizer, else the model's folder, else a tokenizer.bin beside a llama2.c checkpoint. */
    Tokenizer tokenizer(String command, Path model) {
        return tokenizer(command, tokenizer, model);
    }

    /** {@code explicit} when given, else the model's own tokenizer; the error names {@code command}. */
    static Tokenizer tokenizer(String command, Path explicit, Path model) {
        Path p = ModelTokenizer.path(explicit, model);
        if (p == null)
            throw new LoupeException(command + ": --prompt needs a tokenizer: none found in "
                    + ModelTokenizer.folderOf(model) + "; pass --tokenizer PATH or use --tokens");
        return Tokenizers.load(p);
    }
}
