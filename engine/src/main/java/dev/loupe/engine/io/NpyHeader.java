package dev.loupe.engine.io;

import dev.loupe.engine.LoupeException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The header of a numpy {@code .npy} file: dtype, memory order and shape, plus its encoding.
 *
 * <p>On disk: the magic {@code \x93NUMPY}, a version byte pair, the header length (u16 for version
 * 1.0, u32 for 2.0 and 3.0) and a Python dict literal such as
 * {@code {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }} padded with spaces and a
 * final newline so the data starts at a multiple of 64 bytes. The literal is parsed here by a small
 * purpose-built parser that accepts exactly the three keys numpy requires, each once.
 */
record NpyHeader(NpyDType dtype, boolean fortranOrder, long[] shape) {

    static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    /** numpy aligns the data to this many bytes. */
    static final int ALIGNMENT = 64;

    NpyHeader {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /**
     * Magic, version, header length and padded header: everything before the data. Version 1.0
     * unless the header does not fit its 16-bit length field.
     */
    byte[] encode() {
        StringBuilder dims = new StringBuilder();
        for (long d : shape) {
            dims.append(d).append(", ");
        }
        String shapeText = shape.length == 1
                ? "(" + shape[0] + ",)"
                : "(" + (dims.length() == 0 ? "" : dims.substring(0, dims.length() - 2)) + ")";
        String dict = "{'descr': '" + dtype.descr + "', 'fortran_order': " + (fortranOrder ? "True" : "False")
                + ", 'shape': " + shapeText + ", }";
        int major = 1;
        int prefix = MAGIC.length + 2 + 2;
        if (paddedLength(prefix, dict) > 0xFFFF) {
            major = 2;
            prefix = MAGIC.length + 2 + 4;
        }
        int headerLength = paddedLength(prefix, dict);
        ByteBuffer out = ByteBuffer.allocate(prefix + headerLength).order(ByteOrder.LITTLE_ENDIAN);
        out.put(MAGIC).put((byte) major).put((byte) 0);
        if (major == 1) {
            out.putShort((short) headerLength);
        } else {
            out.putInt(headerLength);
        }
        out.put(dict.getBytes(StandardCharsets.US_ASCII));
        while (out.remaining() > 1) {
            out.put((byte) ' ');
        }
        out.put((byte) '\n');
        return out.array();
    }

    /** Dict + spaces + newline, so that prefix + header is a multiple of {@link #ALIGNMENT}. */
    private static int paddedLength(int prefix, String dict) {
        int unpadded = prefix + dict.length() + 1;
        return (unpadded + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT - prefix;
    }

    /** Parses the dict literal of a header; {@code file} is for error messages. */
    static NpyHeader parse(String text, String file) {
        return new Parser(text, file).header();
    }

    /** Recursive-descent parser for the one dict shape numpy writes. No recursion beyond one level. */
    private static final class Parser {
        private final String s;
        private final String file;
        private int pos;

        Parser(String s, String file) {
            this.s = s;
            this.file = file;
        }

        NpyHeader header() {
            String descr = null;
            Boolean fortran = null;
            long[] shape = null;
            skipSpace();
            expect('{');
            skipSpace();
            while (peek() != '}') {
                String key = string();
                skipSpace();
                expect(':');
                skipSpace();
                switch (key) {
                    case "descr" -> {
                        checkFirst(descr, key);
                        if (peek() != '\'' && peek() != '"') {
                            throw error("'descr' must be a simple dtype string such as '<f4' (structured"
                                    + " dtypes are not supported)");
                        }
                        descr = string();
                    }
                    case "fortran_order" -> {
                        checkFirst(fortran, key);
                        fortran = bool();
                    }
                    case "shape" -> {
                        checkFirst(shape, key);
                        shape = tuple();
                    }
                    default -> throw error("unexpected key '" + key + "'; a header has exactly 'descr',"
                            + " 'fortran_order' and 'shape'");
                }
                skipSpace();
                if (peek() == ',') {
                    pos++;
                    skipSpace();
                } else if (peek() != '}') {
                    throw error("expected ',' or '}'");
                }
            }
            pos++;
            skipSpace();
            if (pos != s.length()) {
                throw error("unexpected text after the header dict");
            }
            if (descr == null || fortran == null || shape == null) {
                throw error("header dict must contain 'descr', 'fortran_order' and 'shape'");
            }
            String d = descr;
            NpyDType dtype = NpyDType.fromDescr(d)
                    .orElseThrow(() -> new LoupeException(file
                            + ": unsupported dtype '" + d + "'; supported: " + NpyDType.supportedDescrs()
                            + " (little-endian only)"));
            return new NpyHeader(dtype, fortran, shape);
        }

        private long[] tuple() {
            expect('(');
            List<Long> dims = new ArrayList<>();
            boolean trailingComma = false;
            skipSpace();
            while (peek() != ')') {
                dims.add(dimension(dims.size()));
                skipSpace();
                trailingComma = false;
                if (peek() == ',') {
                    pos++;
                    trailingComma = true;
                    skipSpace();
                } else if (peek() != ')') {
                    throw error("expected ',' or ')' in 'shape'");
                }
            }
            pos++;
            if (dims.size() == 1 && !trailingComma) {
                throw error("'shape' must be a tuple; a one-element tuple is written '(n,)'");
            }
            return dims.stream().mapToLong(Long::longValue).toArray();
        }

        private long dimension(int index) {
            int start = pos;
            while (pos < s.length() && Character.isDigit(s.charAt(pos)) && s.charAt(pos) < 128) {
                pos++;
            }
            if (start == pos) {
                throw error("shape[" + index + "] must be a non-negative integer");
            }
            String digits = s.substring(start, pos);
            if (peek() == 'L') {
                pos++; // Python 2 long literal, as old numpy wrote
            }
            try {
                return Long.parseLong(digits);
            } catch (NumberFormatException e) {
                throw error("shape[" + index + "] = " + digits + " does not fit in 64 bits");
            }
        }

        private boolean bool() {
            if (s.startsWith("True", pos)) {
                pos += 4;
                return true;
            }
            if (s.startsWith("False", pos)) {
                pos += 5;
                return false;
            }
            throw error("'fortran_order' must be True or False");
        }

        private String string() {
            char quote = peek();
            if (quote != '\'' && quote != '"') {
                throw error("expected a quoted string");
            }
            int end = s.indexOf(quote, pos + 1);
            if (end < 0) {
                throw error("unterminated string");
            }
            String value = s.substring(pos + 1, end);
            pos = end + 1;
            return value;
        }

        private void checkFirst(Object previous, String key) {
            if (previous != null) {
                throw error("key '" + key + "' appears twice");
            }
        }

        private void expect(char c) {
            if (peek() != c) {
                throw error("expected '" + c + "'");
            }
            pos++;
        }

        private char peek() {
            if (pos >= s.length()) {
                throw error("header ends unexpectedly");
            }
            return s.charAt(pos);
        }

        private void skipSpace() {
            while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) {
                pos++;
            }
        }

        private LoupeException error(String what) {
            String excerpt = s.length() > 120 ? s.substring(0, 117) + "..." : s;
            return new LoupeException(file + ": malformed .npy header at character " + pos + ": " + what + "; header: "
                    + excerpt.strip());
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NpyHeader h
                && dtype == h.dtype
                && fortranOrder == h.fortranOrder
                && Arrays.equals(shape, h.shape);
    }

    @Override
    public int hashCode() {
        return dtype.hashCode() * 31 + Arrays.hashCode(shape) + (fortranOrder ? 1 : 0);
    }

    @Override
    public String toString() {
        return dtype.descr + Arrays.toString(shape) + (fortranOrder ? " fortran" : "");
    }
}
