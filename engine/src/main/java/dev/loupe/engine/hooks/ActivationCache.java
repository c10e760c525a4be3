package dev.loupe.engine.hooks;

import dev.loupe.engine.LoupeException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import tech.tablesaw.api.LongColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/**
 * Activations of one run, by hook name, as TransformerLens's {@code ActivationCache}. Gradients of
 * a differentiated run sit beside them as {@code <name>_grad}. Arrays are the ones the forward pass
 * computed (no copies); treat them as read-only.
 */
public final class ActivationCache implements AutoCloseable {
    private final Map<String, INDArray> entries = new LinkedHashMap<>();
    private final Set<INDArray> owned = Collections.newSetFromMap(new java.util.IdentityHashMap<>());

    public void put(String name, INDArray activation) {
        entries.put(name, activation);
    }

    /**
     * Gives this cache the memory of some of its activations to free on {@link #close}: each
     * {@code owner} is the array holding that memory (an activation, or the base of a view of one).
     * The forward pass that filled the cache does this for the memory nobody else holds.
     */
    public void adopt(java.util.Collection<INDArray> owners) {
        owned.addAll(owners);
    }

    /**
     * Frees the memory of the activations this cache owns now (for reuse by later passes), instead
     * of when the garbage collector gets to it (ND4J's arrays live off-heap, so the JVM does not feel their size).
     * The cache is empty afterwards; arrays taken from it must not be used.
     */
    @Override
    public void close() {
        entries.clear();
        owned.forEach(dev.loupe.engine.autograd.Graph::recycle);
        owned.clear();
    }

    /** By full name ({@code blocks.0.attn.hook_pattern}) or compact short name ({@code "pattern0"}). */
    public INDArray get(String name) {
        INDArray a = entries.get(name);
        if (a == null) a = entries.get(HookNames.actName(name, -1));
        if (a == null) throw HookNames.unknown("activation in cache", name, entries.keySet());
        return a;
    }

    /** By short name and layer: {@code get("resid_post", 3)}. */
    public INDArray get(String shortName, int layer) {
        return get(HookNames.actName(shortName, layer));
    }

    /** By full or compact short name, as {@link #get(String)}. */
    public boolean contains(String name) {
        return entries.containsKey(name) || entries.containsKey(HookNames.actName(name, -1));
    }

    public Set<String> names() {
        return Collections.unmodifiableSet(entries.keySet());
    }

    public int size() {
        return entries.size();
    }

    /**
     * One hook across all layers that have it, stacked on a new leading dimension:
     * {@code stack("resid_post")} is [n_layers, batch, pos, d_model].
     */
    public INDArray stack(String shortName) {
        List<INDArray> parts = new ArrayList<>();
        for (int l = 0; ; l++) {
            String n = HookNames.actName(shortName, l);
            INDArray a = entries.get(n);
            if (a == null) {
                if (hasLayerAbove(l))
                    throw new LoupeException("cannot stack '" + shortName + "': '" + n + "' was not cached");
                break;
            }
            parts.add(a);
        }
        if (parts.isEmpty())
            throw HookNames.unknown("activation in cache", HookNames.actName(shortName, 0), entries.keySet());
        INDArray[] expanded = parts.stream()
                .map(p -> {
                    long[] s = new long[p.rank() + 1];
                    s[0] = 1;
                    System.arraycopy(p.shape(), 0, s, 1, p.rank());
                    return p.reshape(s);
                })
                .toArray(INDArray[]::new);
        return Nd4j.concat(0, expanded);
    }

    private boolean hasLayerAbove(int layer) {
        return entries.keySet().stream().anyMatch(n -> HookNames.layerOf(n) > layer);
    }

    /** Bytes held by all cached arrays. */
    public long bytes() {
        return entries.values().stream()
                .mapToLong(a -> a.length() * a.dataType().width())
                .sum();
    }

    /** One row per entry: name, shape, dtype and bytes. */
    public Table summary() {
        StringColumn name = StringColumn.create("name"),
                shape = StringColumn.create("shape"),
                dtype = StringColumn.create("dtype");
        LongColumn bytes = LongColumn.create("bytes");
        entries.forEach((n, a) -> {
            name.append(n);
            shape.append(Arrays.toString(a.shape()));
            dtype.append(a.dataType().name().toLowerCase());
            bytes.append(a.length() * a.dataType().width());
        });
        return Table.create("activation cache", name, shape, dtype, bytes);
    }

    @Override
    public String toString() {
        return "ActivationCache(" + entries.size() + " activations, " + bytes() + " bytes)";
    }
}
