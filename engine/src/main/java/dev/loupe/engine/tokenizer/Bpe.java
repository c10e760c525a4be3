package dev.loupe.engine.tokenizer;

import dev.loupe.engine.LoupeException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The BPE model of Hugging Face {@code tokenizers} ({@code models/bpe}), reproduced step for step:
 * a word is split into characters (unknown ones fall back to {@code <0xNN>} byte tokens, or to the
 * unknown token, or are dropped), then adjacent pairs are merged lowest merge rank first, leftmost
 * first among equal ranks, until no pair has a merge. Works for byte-level vocabularies (GPT-2,
 * Llama 3: the "characters" are byte-level characters) and SentencePiece-converted ones (Llama 2:
 * {@code ▁} words with byte fallback).
 *
 * <p>Immutable after construction and safe to share between threads; results for words up to 256
 * chars are cached.
 */
public final class Bpe {
    private static final int MAX_CACHED_WORD = 256;
    private static final int MAX_CACHE_ENTRIES = 100_000;
    /** Largest token id accepted: far above any real vocabulary, low enough to index arrays by id. */
    public static final int MAX_ID = (1 << 22) - 1;

    /** How a model treats characters it does not know and which merges it may skip. */
    public record Options(
            String unkToken,
            boolean fuseUnk,
            boolean byteFallback,
            boolean ignoreMerges,
            String continuingSubwordPrefix,
            String endOfWordSuffix) {
        public static final Options BYTE_LEVEL = new Options(null, false, false, false, null, null);
    }

    private final Map<String, Integer> vocab;
    private final String[] idToToken;
    /** (left id, right id) packed as left << 32 | right → rank << 32 | merged id. */
    private final Map<Long, Long> merges;

    private final Options options;
    private final int unkId;
    private final int[] byteFallbackIds;
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * @param vocab  token → id
     * @param merges pairs in rank order (rank = index); both parts and their concatenation (less the
     *               continuing-subword prefix of the right part) must be in {@code vocab}
     * @param source names the file in error messages
     */
    public Bpe(Map<String, Integer> vocab, List<String[]> merges, Options options, String source) {
        this.vocab = Map.copyOf(vocab);
        this.options = options;
        int max = -1;
        for (int id : vocab.values()) {
            if (id < 0 || id > MAX_ID)
                throw new LoupeException(source + ": token id " + id + " is out of range (0.." + MAX_ID + ")");
            max = Math.max(max, id);
        }
        idToToken = new String[max + 1];
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            if (idToToken[e.getValue()] != null)
                throw new LoupeException(source + ": id " + e.getValue() + " is given to both '"
                        + idToToken[e.getValue()] + "' and '" + e.getKey() + "'");
            idToToken[e.getValue()] = e.getKey();
        }
        int prefixLen = options.continuingSubwordPrefix() == null
                ? 0
                : options.continuingSubwordPrefix().length();
        this.merges = new HashMap<>(merges.size() * 2);
        for (int rank = 0; rank < merges.size(); rank++) {
            String[] m = merges.get(rank);
            Integer a = vocab.get(m[0]), b = vocab.get(m[1]);
            if (a == null || b == null)
                throw new LoupeException(source + ": merge " + (rank + 1) + " '" + m[0] + " " + m[1] + "': '"
                        + (a == null ? m[0] : m[1]) + "' is not in the vocabulary");
            String right = prefixLen > 0 && m[1].startsWith(options.continuingSubwordPrefix())
                    ? m[1].substring(prefixLen)
                    : m[1];
            Integer merged = vocab.get(m[0] + right);
            if (merged == null)
                throw new LoupeException(source + ": merge " + (rank + 1) + " '" + m[0] + " " + m[1]
                        + "': the merged token '" + m[0] + right + "' is not in the vocabulary");
            this.merges.put(pairKey(a, b), (long) rank << 32 | merged);
        }
        if (options.unkToken() != null) {
            Integer u = vocab.get(options.unkToken());
            if (u == null)
                throw new LoupeException(source + ": unk_token '" + options.unkToken() + "' is not in the vocabulary");
            unkId = u;
        } else {
            unkId = -1;
        }
        byteFallbackIds = new int[256];
        for (int b = 0; b < 256; b++) {
            Integer id = vocab.get(byteToken(b));
            byteFallbackIds[b] = id == null ? -1 : id;
        }
    }

    /** The {@code <0xNN>} spelling of a byte (upper-case hex), as HF's byte fallback looks it up. */
    static String byteToken(int b) {
        String hex = "0123456789ABCDEF";
        return "<0x" + hex.charAt(b >> 4 & 15) + hex.charAt(b & 15) + ">";
    }

    private static long pairKey(int a, int b) {
        return (long) a << 32 | (b & 0xFFFFFFFFL);
    }

    public Integer id(String token) {
        return vocab.get(token);
    }

    /** The token with this id, or null for an id the vocabulary skips. */
    public String token(int id) {
        return id >= 0 && id < idToToken.length ? idToToken[id] : null;
    }

    /** One more than the largest id. */
    public int size() {
        return idToToken.length;
    }

    public Map<String, Integer> vocab() {
        return vocab;
    }

    /** The ids of one pre-tokenized word. */
    public int[] tokenize(String word) {
        if (word.isEmpty()) return new int[0];
        if (options.ignoreMerges()) {
            Integer id = vocab.get(word);
            if (id != null) return new int[] {id};
        }
        boolean cacheable = word.length() <= MAX_CACHED_WORD;
        if (cacheable) {
            int[] hit = cache.get(word);
            if (hit != null) return hit.clone();
        }
        int[] ids = mergeWord(word);
        if (cacheable) {
            if (cache.size() >= MAX_CACHE_ENTRIES) cache.clear();
            cache.put(word, ids.clone());
        }
        return ids;
    }

    /** Symbols of a word being merged: a doubly linked list over arrays (HF's {@code Word}). */
    private static final class Word {
        int[] id, prev, next, len;
        int n;

        Word(int capacity) {
            id = new int[capacity];
            prev = new int[capacity];
            next = new int[capacity];
            len = new int[capacity];
        }

        void add(int tokenId, int byteLen) {
            if (n == id.length) {
                int cap = n * 2 + 4;
                id = Arrays.copyOf(id, cap);
                prev = Arrays.copyOf(prev, cap);
                next = Arrays.copyOf(next, cap);
                len = Arrays.copyOf(len, cap);
            }
            id[n] = tokenId;
            prev[n] = n - 1;
            next[n] = -1;
            if (n > 0) next[n - 1] = n;
            len[n] = byteLen;
            n++;
        }
    }

    private record Merge(int pos, int rank, int newId) {}

    private int[] mergeWord(String w) {
        Word word = new Word(w.length());
        int unkPending = -1, unkLen = 0;
        String prefix = options.continuingSubwordPrefix(), suffix = options.endOfWordSuffix();
        for (int i = 0; i < w.length(); ) {
            int cp = w.codePointAt(i);
            int end = i + Character.charCount(cp);
            String s = w.substring(i, end);
            int byteLen = utf8Length(cp);
            if (i > 0 && prefix != null) s = prefix + s;
            if (end == w.length() && suffix != null) s = s + suffix;
            i = end;
            Integer id = vocab.get(s);
            if (id != null) {
                if (unkPending >= 0) {
                    word.add(unkPending, unkLen);
                    unkPending = -1;
                }
                word.add(id, byteLen);
                continue;
            }
            if (options.byteFallback()) {
                byte[] bytes = Utf8.encode(s);
                boolean all = true;
                for (byte b : bytes) all &= byteFallbackIds[b & 0xFF] >= 0;
                if (all) {
                    for (byte b : bytes) word.add(byteFallbackIds[b & 0xFF], 1);
                    continue;
                }
            }
            if (unkId >= 0) {
                if (unkPending >= 0 && options.fuseUnk()) {
                    unkLen += byteLen;
                } else {
                    if (unkPending >= 0) word.add(unkPending, unkLen);
                    unkPending = unkId;
                    unkLen = byteLen;
                }
            }
        }
        if (unkPending >= 0) word.add(unkPending, unkLen);
        mergeAll(word);
        int count = 0;
        for (int i = 0; i < word.n; i++) if (word.len[i] != 0) count++;
        int[] out = new int[count];
        for (int i = 0, k = 0; i < word.n; i++) if (word.len[i] != 0) out[k++] = word.id[i];
        return out;
    }

    private static int utf8Length(int cp) {
        return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    }

    /** HF's {@code Word::merge_all} without dropout: a min-queue on (rank, position). */
    private void mergeAll(Word w) {
        PriorityQueue<Merge> queue = new PriorityQueue<>(
                Math.max(1, w.n),
                (x, y) -> x.rank != y.rank ? Integer.compare(x.rank, y.rank) : Integer.compare(x.pos, y.pos));
        for (int i = 0; i + 1 < w.n; i++) {
            Long m = merges.get(pairKey(w.id[i], w.id[i + 1]));
            if (m != null) queue.add(new Merge(i, (int) (m >>> 32), (int) (long) m));
        }
        while (!queue.isEmpty()) {
            Merge top = queue.poll();
            if (w.len[top.pos] == 0) continue;
            int nextPos = w.next[top.pos];
            if (nextPos == -1) continue;
            Long target = merges.get(pairKey(w.id[top.pos], w.id[nextPos]));
            if (target == null || (int) (long) target != top.newId) continue;
            // merge the right symbol into this one
            w.id[top.pos] = top.newId;
            w.len[top.pos] += w.len[nextPos];
            w.next[top.pos] = w.next[nextPos];
            w.len[nextPos] = 0;
            int after = w.next[top.pos];
            if (after != -1) w.prev[after] = top.pos;
            int before = w.prev[top.pos];
            if (before >= 0) {
                Long m = merges.get(pairKey(w.id[before], w.id[top.pos]));
                if (m != null) queue.add(new Merge(before, (int) (m >>> 32), (int) (long) m));
            }
            if (after != -1) {
                Long m = merges.get(pairKey(w.id[top.pos], w.id[after]));
                if (m != null) queue.add(new Merge(top.pos, (int) (m >>> 32), (int) (long) m));
            }
        }
    }
}
