package dev.loupe.engine.train.tasks;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.autograd.Graph;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.Losses;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Tokens;
import dev.loupe.engine.tokenizer.CharTokenizer;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.engine.tokenizer.Tokenizers;
import dev.loupe.engine.tokenizer.Utf8;
import dev.loupe.engine.train.Task;
import dev.loupe.engine.train.TaskBatch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Next-token prediction on a text corpus, split as nanoGPT splits {@code shakespeare_char}: the first
 * 90% of the characters train, the last 10% are held out (each part tokenized on its own).
 *
 * <p>A training sequence is a window at a random place in the training part, read from the BOS:
 * inputs {@code [BOS, x_s .. x_{s+n-2}]}, targets {@code [x_s .. x_{s+n-1}]} for {@code n = seqLen},
 * so every position predicts the next token, the first from the BOS alone. The evaluation
 * ({@code val_loss}) is the mean loss over every token of the held-out part, read in consecutive
 * windows of {@code seqLen} predictions that each start at the BOS: deterministic, the same
 * positions every time.
 *
 * <p>The corpus is read into memory once, as token ids (4 bytes per token).
 */
public final class TextTask implements Task {
    /** nanoGPT's held-out share: {@code val_data = data[int(n * 0.9):]}. */
    public static final double VALIDATION_FRACTION = 0.1;

    private static final int EVAL_BATCH = 64;
    private final Path corpus;
    private final String sha256;
    private final Tokenizer tokenizer;
    private final Path tokenizerSource;
    private final int[] train, validation;
    private final int seqLen, bos;
    private final long bytes;

    private TextTask(
            Path corpus,
            String sha256,
            Tokenizer tokenizer,
            Path tokenizerSource,
            int[] train,
            int[] validation,
            int seqLen,
            long bytes) {
        this.corpus = corpus;
        this.bytes = bytes;
        this.sha256 = sha256;
        this.tokenizer = tokenizer;
        this.tokenizerSource = tokenizerSource;
        this.train = train;
        this.validation = validation;
        this.seqLen = seqLen;
        this.bos = tokenizer.bosForPrepending();
    }

    /**
     * Reads {@code corpus} (UTF-8) and tokenizes it with {@code tokenizer}: {@code "char"} for a
     * {@link CharTokenizer} of the corpus's characters, else a tokenizer path for
     * {@link Tokenizers#load}, whose files are copied beside the trained model.
     */
    public static TextTask load(Path corpus, String tokenizer, int seqLen) {
        if (tokenizer.equals("char"))
            return load(
                    corpus,
                    text -> CharTokenizer.fromText(text, "the characters of " + corpus.getFileName()),
                    null,
                    seqLen);
        Path source = Path.of(tokenizer);
        return load(corpus, text -> Tokenizers.load(source), source, seqLen);
    }

    /** Reads {@code corpus} (UTF-8) and tokenizes it with a given character vocabulary (another model's). */
    public static TextTask load(Path corpus, CharTokenizer alphabet, int seqLen) {
        return load(corpus, text -> alphabet, null, seqLen);
    }

    private static TextTask load(
            Path corpus, java.util.function.Function<String, Tokenizer> tokenizerOf, Path source, int seqLen) {
        if (seqLen < 2) throw new LoupeException("text task: sequence length must be >= 2, got " + seqLen);
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(corpus);
        } catch (IOException e) {
            throw new LoupeException("--corpus " + corpus + ": cannot read: " + e.getMessage(), e);
        }
        String text = Utf8.decodeStrict(bytes, "--corpus " + corpus);
        int n = text.codePointCount(0, text.length());
        int split = text.offsetByCodePoints(0, (int) (n * (1 - VALIDATION_FRACTION)));
        Tokenizer tok = tokenizerOf.apply(text);
        int[] train = tok.encode(text.substring(0, split)), validation = tok.encode(text.substring(split));
        if (train.length < seqLen)
            throw new LoupeException("--corpus " + corpus + ": its training part is " + train.length
                    + " tokens, shorter than one sequence of " + seqLen);
        if (validation.length == 0)
            throw new LoupeException("--corpus " + corpus + ": its held-out part (the last 10%) has no tokens");
        return new TextTask(corpus, sha256(bytes), tok, source, train, validation, seqLen, bytes.length);
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e); // every JVM has SHA-256
        }
    }

    @Override
    public String name() {
        return "text";
    }

    /** The corpus's SHA-256, the tokenizer and the sequence length: a checkpoint resumes only on the same. */
    @Override
    public String identity() {
        return "text corpus sha256 " + sha256 + ", tokenizer "
                + (tokenizerSource == null
                        ? "char (" + tokenizer.vocabSize() + " tokens, SHA-256 of the characters "
                                + sha256(tokenizer
                                                .decode(allIds(), true)
                                                .getBytes(java.nio.charset.StandardCharsets.UTF_8))
                                        .substring(0, 16)
                                + ")"
                        : tokenizerSource)
                + ", seq_len " + seqLen;
    }

    private int[] allIds() {
        return java.util.stream.IntStream.range(0, tokenizer.vocabSize()).toArray();
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /** The number of token ids the model needs. */
    public int vocabSize() {
        return tokenizer.vocabSize();
    }

    public int seqLen() {
        return seqLen;
    }

    public Path corpus() {
        return corpus;
    }

    /** The corpus file's SHA-256, hexadecimal. */
    public String sha256() {
        return sha256;
    }

    /** The tokens of the training part (a copy). */
    public int[] trainTokens() {
        return train.clone();
    }

    /** The tokens of the held-out part (a copy). */
    public int[] validationTokens() {
        return validation.clone();
    }

    @Override
    public TaskBatch batch(int batchSize, SplittableRandom rng) {
        int[][] ids = new int[batchSize][seqLen], targets = new int[batchSize][seqLen];
        for (int b = 0; b < batchSize; b++) {
            int s = rng.nextInt(train.length - seqLen + 1);
            ids[b][0] = bos;
            System.arraycopy(train, s, ids[b], 1, seqLen - 1);
            System.arraycopy(train, s, targets[b], 0, seqLen);
        }
        return new TaskBatch(Tokens.of(ids), targets);
    }

    @Override
    public void validate(ModelConfig model, int batchSize) {
        if (seqLen > model.nCtx())
            throw new LoupeException(
                    "text task: sequences of " + seqLen + " tokens are longer than the model's n_ctx " + model.nCtx());
        if (tokenizer.vocabSize() > model.dVocab())
            throw new LoupeException("text task: the tokenizer has " + tokenizer.vocabSize()
                    + " tokens, more than the model's d_vocab " + model.dVocab());
    }

    /** {@code val_loss}: the mean next-token loss over the held-out part. */
    @Override
    public Map<String, Double> evaluate(HookedTransformer model) {
        return Map.of("val_loss", validationLoss(model));
    }

    /** The mean next-token loss of {@code model} over every token of the held-out part. */
    public double validationLoss(HookedTransformer model) {
        return meanLoss(model, validation);
    }

    /**
     * The mean next-token loss over every token of {@code ids}, read in consecutive windows of
     * {@code seqLen} predictions, each starting at the BOS.
     */
    public double meanLoss(HookedTransformer model, int[] ids) {
        int full = ids.length / seqLen, tail = ids.length % seqLen;
        double sum = 0;
        for (int from = 0; from < full; from += EVAL_BATCH)
            sum += windowLoss(model, ids, from * seqLen, Math.min(EVAL_BATCH, full - from), seqLen);
        if (tail > 0) sum += windowLoss(model, ids, full * seqLen, 1, tail);
        return sum / ids.length;
    }

    /** The summed loss of {@code count} consecutive windows of {@code len} predictions from {@code ids[start]}. */
    private double windowLoss(HookedTransformer model, int[] ids, int start, int count, int len) {
        int[][] in = new int[count][len], targets = new int[count][len];
        for (int w = 0; w < count; w++) {
            in[w][0] = bos;
            System.arraycopy(ids, start + w * len, in[w], 1, len - 1);
            System.arraycopy(ids, start + w * len, targets[w], 0, len);
        }
        try (Graph g = Graph.inference()) {
            return Losses.perPosition(g.constant(model.run(Tokens.of(in))), targets)
                    .data()
                    .sumNumber()
                    .doubleValue();
        }
    }

    /** The tokenizer beside the model: {@code char_tokenizer.json}, or a copy of the tokenizer's files. */
    @Override
    public void writeFiles(Path modelDir) {
        if (tokenizerSource == null) ((CharTokenizer) tokenizer).save(modelDir);
        else Tokenizers.copy(tokenizerSource, modelDir);
    }

    @Override
    public String toString() {
        return String.format(
                Locale.ROOT,
                "%s (%,d bytes, SHA-256 %s), tokenizer %s: %,d training and %,d held-out tokens, sequences of %d",
                corpus.getFileName(),
                bytes,
                sha256.substring(0, 12) + "...",
                tokenizerSource == null ? "char (" + tokenizer.vocabSize() + " ids with the BOS)" : tokenizerSource,
                train.length,
                validation.length,
                seqLen);
    }
}
