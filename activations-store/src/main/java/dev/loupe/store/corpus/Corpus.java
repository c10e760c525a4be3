package dev.loupe.store.corpus;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loupe.engine.LoupeException;
import dev.loupe.engine.io.Json;
import dev.loupe.engine.tokenizer.Tokenizer;
import dev.loupe.store.StoreManifest.SourceInfo;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.NoSuchElementException;
import java.util.stream.Stream;

/**
 * The documents of a corpus, as token ids, in a fixed order. Sources, by file extension:
 * <ul>
 *   <li>{@code .txt}: plain UTF-8 text, one document per non-empty line ({@link TextDocs#LINES}) or
 *       per file ({@link TextDocs#FILE});</li>
 *   <li>{@code .jsonl}: one JSON object per line, the document in a string field ({@code text} by default);</li>
 *   <li>{@code .npy}: token ids already tokenized, int32 or int64: 1-D is one document, 2-D one document per row
 *       (a row of exactly the context size that starts with the BOS passes through the chunker unchanged).</li>
 * </ul>
 * A folder stands for the files in it (recursively, by name). Text is tokenized without a BOS, special
 * tokens recognised, as TransformerLens's {@code to_tokens(prepend_bos=False)} that SAELens calls.
 */
public final class Corpus {
    /** How a plain text file is split into documents. */
    public enum TextDocs {
        LINES,
        FILE
    }

    private static final ObjectMapper JSON = Json.mapper();

    private final List<Path> files;
    private final List<String> kinds;
    private final Tokenizer tokenizer;
    private final String textField;
    private final TextDocs textDocs;

    private Corpus(List<Path> files, List<String> kinds, Tokenizer tokenizer, String textField, TextDocs textDocs) {
        this.files = files;
        this.kinds = kinds;
        this.tokenizer = tokenizer;
        this.textField = textField;
        this.textDocs = textDocs;
    }

    /** The corpus of these files and folders; {@code tokenizer} may be null when every source is {@code .npy}. */
    public static Corpus of(List<Path> paths, Tokenizer tokenizer, String textField, TextDocs textDocs) {
        if (paths.isEmpty()) throw new LoupeException("corpus: no files given");
        List<Path> files = new ArrayList<>();
        List<String> kinds = new ArrayList<>();
        for (Path p : paths) {
            if (Files.isDirectory(p)) {
                try (Stream<Path> s = Files.walk(p)) {
                    List<Path> inside = s.filter(Files::isRegularFile)
                            .filter(f -> kind(f) != null)
                            .sorted()
                            .toList();
                    if (inside.isEmpty())
                        throw new LoupeException("corpus folder " + p + " holds no .txt, .jsonl or .npy files");
                    files.addAll(inside);
                } catch (IOException e) {
                    throw new LoupeException("corpus folder " + p + ": cannot list: " + e.getMessage(), e);
                }
            } else if (!Files.exists(p)) {
                throw new LoupeException("corpus file " + p + " does not exist");
            } else {
                if (kind(p) == null)
                    throw new LoupeException("corpus file " + p + ": unknown kind (expected .txt, .jsonl or .npy)");
                files.add(p);
            }
        }
        for (Path f : files) {
            kinds.add(kind(f));
            if (!kind(f).equals("npy") && tokenizer == null)
                throw new LoupeException("corpus file " + f
                        + " is text: a tokenizer is needed (--tokenizer PATH, or one beside the model)");
        }
        return new Corpus(files, kinds, tokenizer, textField == null ? "text" : textField, textDocs);
    }

    private static String kind(Path f) {
        String n = f.getFileName().toString().toLowerCase(Locale.ROOT);
        if (n.endsWith(".txt") || n.endsWith(".text")) return "text";
        if (n.endsWith(".jsonl") || n.endsWith(".json")) return "jsonl";
        if (n.endsWith(".npy")) return "npy";
        return null;
    }

    /** Each file with its kind and size, for the manifest. */
    public List<SourceInfo> describe() {
        List<SourceInfo> out = new ArrayList<>();
        for (int i = 0; i < files.size(); i++) {
            try {
                out.add(new SourceInfo(
                        files.get(i).toAbsolutePath().normalize().toString(), kinds.get(i), Files.size(files.get(i))));
            } catch (IOException e) {
                throw new LoupeException("corpus file " + files.get(i) + ": " + e.getMessage(), e);
            }
        }
        return out;
    }

    public String textField() {
        return textField;
    }

    public TextDocs textDocs() {
        return textDocs;
    }

    public boolean hasText() {
        return kinds.stream().anyMatch(k -> !k.equals("npy"));
    }

    /**
     * Where a document starts: the index of its file among the corpus's files, and in that file the
     * byte offset of its line (text, JSONL; 0 for a whole-file document) or its row (.npy), and its
     * line number (1-based; for error messages). Lets a corpus be read from any document on, so that
     * a distributed harvest's tasks each start at their own sequences without reading what precedes.
     */
    public record DocumentPosition(int file, long offset, long line) implements Serializable {
        /** The first document of the corpus. */
        public static final DocumentPosition START = new DocumentPosition(0, 0, 1);
    }

    /** The documents in corpus order, each knowing where it starts. */
    public interface Documents extends Iterator<int[]> {
        /** Where the document last returned by {@link #next} starts. */
        DocumentPosition position();
    }

    /** The documents, each a token-id array, file after file. Errors name the file and byte offset or line. */
    public Documents documents() {
        return documentsFrom(DocumentPosition.START);
    }

    /** The documents from the one at {@code start} on (a position a {@link Documents} gave for this corpus). */
    public Documents documentsFrom(DocumentPosition start) {
        if (start.file() < 0 || start.file() >= files.size())
            throw new LoupeException("corpus: no file " + start.file() + " (the corpus has " + files.size() + ")");
        return new Documents() {
            int file = start.file() - 1;
            FileDocuments current = null;

            @Override
            public boolean hasNext() {
                while (current == null || !current.hasNext()) {
                    if (current != null) closeQuietly(current);
                    if (++file >= files.size()) return false;
                    DocumentPosition from = file == start.file() ? start : DocumentPosition.START;
                    current = open(files.get(file), kinds.get(file), from.offset(), from.line());
                }
                return true;
            }

            @Override
            public int[] next() {
                if (!hasNext()) throw new NoSuchElementException();
                return current.next();
            }

            @Override
            public DocumentPosition position() {
                if (current == null) throw new IllegalStateException("no document read yet");
                return new DocumentPosition(file, current.offset(), current.line());
            }
        };
    }

    /** The documents of one file; {@link #offset} and {@link #line} are those of the last one returned. */
    interface FileDocuments extends Iterator<int[]>, AutoCloseable {
        long offset();

        long line();
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // read-only input
        }
    }

    /** A file's documents from the one at byte offset (or row) {@code offset}, which is on line {@code line}. */
    private FileDocuments open(Path f, String kind, long offset, long line) {
        return switch (kind) {
            case "npy" -> new NpyDocuments(f, offset);
            case "jsonl" -> new Lines(f, offset, line, (text, lineNo, at) -> {
                JsonNode n;
                try {
                    n = JSON.readTree(text);
                } catch (IOException e) {
                    throw new LoupeException(f + ": line " + lineNo + " (byte offset " + at + ") is not valid JSON: "
                            + e.getMessage().lines().findFirst().orElse(""));
                }
                JsonNode t = n == null ? null : n.get(textField);
                if (t == null || !t.isTextual())
                    throw new LoupeException(f + ": line " + lineNo + " has no string field \"" + textField + "\"");
                return tokenizer.encode(t.textValue(), true);
            });
            default -> textDocs == TextDocs.FILE
                    ? new WholeFile(f)
                    : new Lines(f, offset, line, (text, lineNo, at) -> tokenizer.encode(text, true));
        };
    }

    /** A text file as one document. */
    private final class WholeFile implements FileDocuments {
        private final Path file;
        private boolean read;

        WholeFile(Path file) {
            this.file = file;
        }

        @Override
        public boolean hasNext() {
            return !read;
        }

        @Override
        public int[] next() {
            if (read) throw new NoSuchElementException();
            read = true;
            return tokenizer.encode(decode(readAll(file), file, 0), true);
        }

        @Override
        public long offset() {
            return 0;
        }

        @Override
        public long line() {
            return 1;
        }

        @Override
        public void close() {}
    }

    private static byte[] readAll(Path f) {
        try {
            return Files.readAllBytes(f);
        } catch (IOException e) {
            throw new LoupeException("corpus file " + f + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** Strict UTF-8 decoding; the error names the file and the byte offset in it. */
    static String decode(byte[] bytes, Path f, long fileOffset) {
        CharsetDecoder dec = StandardCharsets.UTF_8
                .newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult r = dec.decode(in, out, true);
        if (!r.isError()) r = dec.flush(out);
        if (r.isError())
            throw new LoupeException(
                    f + ": not UTF-8: invalid byte 0x" + String.format("%02X", bytes[in.position()] & 0xFF)
                            + " at byte offset " + (fileOffset + in.position()));
        return out.flip().toString();
    }

    /** One document per line. */
    @FunctionalInterface
    private interface LineTokenizer {
        int[] tokenize(String line, long lineNo, long offset);
    }

    /** Lines of a file (split at \n, a trailing \r dropped), decoded strictly and tokenized; empty lines skipped. */
    private static final class Lines implements FileDocuments {
        private final Path file;
        private final LineTokenizer tokenize;
        private final InputStream in;
        private byte[] buf = new byte[1 << 12];
        private long offset, lineNo;
        private long readyOffset, readyLine, lastOffset, lastLine;
        private int[] ready;
        private boolean eof;

        /** The lines from byte {@code start} on, the first being line number {@code line}. */
        Lines(Path file, long start, long line, LineTokenizer tokenize) {
            this.file = file;
            this.tokenize = tokenize;
            try {
                InputStream raw = Files.newInputStream(file);
                raw.skipNBytes(start);
                this.in = new BufferedInputStream(raw, 1 << 16);
            } catch (java.io.EOFException e) {
                throw new LoupeException("corpus file " + file + " is shorter than " + start
                        + " bytes (changed since the harvest was planned?)");
            } catch (IOException e) {
                throw new LoupeException("corpus file " + file + ": cannot read: " + e.getMessage(), e);
            }
            this.offset = start;
            this.lineNo = line - 1;
        }

        @Override
        public long offset() {
            return lastOffset;
        }

        @Override
        public long line() {
            return lastLine;
        }

        @Override
        public boolean hasNext() {
            while (ready == null && !eof) {
                long start = offset;
                int n = 0;
                try {
                    int b;
                    while ((b = in.read()) >= 0) {
                        offset++;
                        if (b == '\n') break;
                        if (n == buf.length) buf = java.util.Arrays.copyOf(buf, n * 2);
                        buf[n++] = (byte) b;
                    }
                    if (b < 0) eof = true;
                } catch (IOException e) {
                    throw new LoupeException(
                            "corpus file " + file + ": read failed at byte " + offset + ": " + e.getMessage(), e);
                }
                lineNo++;
                if (n > 0 && buf[n - 1] == '\r') n--;
                if (n == 0) continue;
                String line = decode(java.util.Arrays.copyOf(buf, n), file, start);
                if (line.isBlank()) continue;
                ready = tokenize.tokenize(line, lineNo, start);
                readyOffset = start;
                readyLine = lineNo;
            }
            if (ready == null) close();
            return ready != null;
        }

        @Override
        public int[] next() {
            if (!hasNext()) throw new NoSuchElementException();
            int[] r = ready;
            ready = null;
            lastOffset = readyOffset;
            lastLine = readyLine;
            return r;
        }

        @Override
        public void close() {
            try {
                in.close();
            } catch (IOException ignored) {
                // read-only
            }
        }
    }
}
