package dev.loupe.engine.tokenizer;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Hugging Face decoder: turns token strings back into text, one chain step at a time
 * ({@code decode_chain}); the final text is the concatenation of what the last step returns. Each
 * implementation is named as its {@code "type"} in tokenizer.json.
 */
interface Decoder {

    List<String> decodeChain(List<String> tokens);

    /** {@code ByteLevel}: byte-level characters back to bytes, then UTF-8 with replacement characters. */
    record ByteLevel() implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            for (String t : tokens) ByteLevelAlphabet.appendBytes(t, bytes);
            return List.of(Utf8.decodeLossy(bytes.toByteArray()));
        }
    }

    /** {@code Replace}: in each token, every match of the pattern becomes {@code content}. */
    record Replace(Pattern pattern, String content) implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            for (String t : tokens) out.add(pattern.matcher(t).replaceAll(Matcher.quoteReplacement(content)));
            return out;
        }
    }

    /**
     * {@code ByteFallback}: runs of {@code <0xNN>} tokens become the text their bytes spell, or one
     * U+FFFD per byte when they are not valid UTF-8.
     */
    record ByteFallback() implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            ByteArrayOutputStream pending = new ByteArrayOutputStream();
            for (String t : tokens) {
                int b = byteToken(t);
                if (b >= 0) {
                    pending.write(b);
                    continue;
                }
                flush(pending, out);
                out.add(t);
            }
            flush(pending, out);
            return out;
        }

        private static void flush(ByteArrayOutputStream pending, List<String> out) {
            if (pending.size() == 0) return;
            byte[] bytes = pending.toByteArray();
            if (Utf8.isValid(bytes)) out.add(Utf8.decodeLossy(bytes));
            else for (int i = 0; i < bytes.length; i++) out.add(String.valueOf(Utf8.REPLACEMENT));
            pending.reset();
        }

        /** The byte of a {@code <0xNN>} token (hex digits of either case, as Rust's from_str_radix), else -1. */
        static int byteToken(String t) {
            if (t.length() != 6 || !t.startsWith("<0x") || t.charAt(5) != '>') return -1;
            int hi = Character.digit(t.charAt(3), 16), lo = Character.digit(t.charAt(4), 16);
            if (hi < 0 || lo < 0 || t.charAt(3) > 'f' || t.charAt(4) > 'f') return -1;
            return hi << 4 | lo;
        }
    }

    /** {@code Fuse}: all tokens into one string. */
    record Fuse() implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            return List.of(String.join("", tokens));
        }
    }

    /** {@code Strip}: removes up to {@code start} leading and {@code stop} trailing {@code content} characters per token. */
    record Strip(int content, int start, int stop) implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            for (String t : tokens) {
                int[] cps = t.codePoints().toArray();
                int from = 0;
                for (int i = 0; i < Math.min(start, cps.length) && cps[i] == content; i++) from = i + 1;
                int to = cps.length;
                for (int i = 0; i < stop && cps.length - i - 1 >= from; i++) {
                    int index = cps.length - i - 1;
                    if (cps[index] != content) break;
                    to = index;
                }
                out.add(new String(cps, from, Math.max(0, to - from)));
            }
            return out;
        }
    }

    /**
     * {@code Metaspace}: {@code replacement} (▁) back to spaces; in the first token, unless the prepend
     * scheme is "never", replacements are dropped instead (HF drops all of them there, not only the first).
     */
    record Metaspace(int replacement, boolean stripFirst) implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            for (int i = 0; i < tokens.size(); i++) {
                StringBuilder sb = new StringBuilder();
                boolean first = i == 0;
                tokens.get(i).codePoints().forEach(c -> {
                    if (c != replacement) sb.appendCodePoint(c);
                    else if (!(first && stripFirst)) sb.append(' ');
                });
                out.add(sb.toString());
            }
            return out;
        }
    }

    /** {@code Sequence}: each decoder's output feeds the next. */
    record Sequence(List<Decoder> steps) implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            for (Decoder d : steps) tokens = d.decodeChain(tokens);
            return tokens;
        }
    }
}
