package dev.loupe.engine.autograd;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The context one forward (and optional backward) pass runs in. It does two jobs:
 * <ol>
 *   <li>When recording, it is the tape of reverse-mode autodiff: every op whose inputs need a
 *       gradient appends itself, and {@link #backward} walks the tape in reverse.</li>
 *   <li>It owns the activations it allocated and frees them explicitly ({@link #releaseScratch}),
 *       because ND4J only frees off-heap memory when the garbage collector finds it: a forward pass
 *       that leaves freeing to GC faults in fresh pages for every activation, which measured 5-7x
 *       slower than reusing freed memory. Arrays that escape — cached, handed to a user hook,
 *       returned — are marked with {@link #keep} and never freed here.</li>
 * </ol>
 * Not thread-safe: one graph per forward pass.
 */
public final class Graph implements AutoCloseable {
    private final boolean recording;
    private final List<Tensor> tape = new ArrayList<>();
    private final List<INDArray> owned = new ArrayList<>();
    private final Map<DataBuffer, INDArray> ownerByBuffer = new IdentityHashMap<>();
    private final Set<DataBuffer> kept = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Set<DataBuffer> handedOut = Collections.newSetFromMap(new IdentityHashMap<>());
    private boolean closed;

    private Graph(boolean recording) {
        this.recording = recording;
    }

    /** A graph that records nothing: for plain forward passes. */
    public static Graph inference() {
        return new Graph(false);
    }

    /** A graph that records the tape so that {@link #backward} can run. */
    public static Graph recording() {
        return new Graph(true);
    }

    public boolean isRecording() {
        return recording;
    }

    /** A value that never receives a gradient. */
    public Tensor constant(INDArray data) {
        return new Tensor(this, data, false);
    }

    /** A value whose gradient is wanted (a weight, or an input to differentiate by). */
    public Tensor leaf(INDArray data) {
        return new Tensor(this, data, recording);
    }

    /** An uninitialised c-ordered array (often a recycled buffer) that this graph may free later. */
    INDArray alloc(DataType type, long... shape) {
        INDArray a = BufferPool.current().take(type, shape);
        own(a);
        return a;
    }

    /**
     * Gives the memory of an array that nothing uses any more back for reuse by later passes on this
     * thread (or frees it). For owners of escaped memory (caches, results) when they are closed.
     */
    public static void recycle(INDArray owner) {
        if (owner != null && !owner.wasClosed()) BufferPool.current().give(owner);
    }

    /** Frees the memory this thread keeps for reuse (see {@link #recycle}). */
    public static void freeRecycledMemory() {
        BufferPool.current().clear();
    }

    /** Hands an array allocated elsewhere to this graph, to be freed with its own. */
    void own(INDArray a) {
        owned.add(a);
        ownerByBuffer.put(base(a.data()), a);
    }

    /** Marks an array (or the buffer under a view) as escaping: it is never freed by this graph. */
    public void keep(INDArray a) {
        if (a != null) kept.add(base(a.data()));
    }

    /**
     * Marks an array as given to user code (a hook), which may hold on to it: it is kept, and its
     * memory is never handed to a cache or result to free ({@link #release}). Returns {@code a}.
     */
    public INDArray handOut(INDArray a) {
        keep(a);
        handedOut.add(base(a.data()));
        return a;
    }

    /**
     * For a kept array that a cache or result returns to the caller: the array holding its memory
     * (itself, or the base of a view), which the receiver may free when it is closed; null when the
     * memory is not this graph's to give (a weight, a user's array, or memory a hook was handed).
     */
    public INDArray release(INDArray a) {
        if (a == null) return null;
        DataBuffer b = base(a.data());
        return handedOut.contains(b) ? null : ownerByBuffer.get(b);
    }

    private static DataBuffer base(DataBuffer b) {
        while (b.originalDataBuffer() != null && b.originalDataBuffer() != b) b = b.originalDataBuffer();
        return b;
    }

    void record(Tensor t) {
        tape.add(t);
    }

    /**
     * Frees every array this graph allocated that is neither kept nor listed as still live. Only
     * allowed while not recording: the tape holds on to intermediates for the backward pass.
     */
    public void releaseScratch(Tensor... live) {
        if (recording) return;
        Set<DataBuffer> alive = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Tensor t : live) if (t != null) alive.add(base(t.data().data()));
        List<INDArray> stillOwned = new ArrayList<>();
        for (INDArray a : owned) {
            DataBuffer b = base(a.data());
            if (kept.contains(b)) continue;
            if (alive.contains(b)) stillOwned.add(a);
            else {
                ownerByBuffer.remove(b);
                BufferPool.current().give(a);
            }
        }
        owned.clear();
        owned.addAll(stillOwned);
    }

    /**
     * Reverse-mode autodiff from a scalar: afterwards every tensor on the tape that needs a
     * gradient holds d(output)/d(tensor) in {@link Tensor#grad()}.
     */
    public void backward(Tensor output) {
        if (!recording) throw new IllegalStateException("backward() needs a recording graph");
        if (output.data().length() != 1)
            throw new IllegalArgumentException(
                    "backward() needs a scalar output, got shape " + java.util.Arrays.toString(output.shape()));
        if (!output.requiresGrad()) return;
        output.accumulateGrad(Nd4j.onesLike(output.data()));
        for (int i = tape.size() - 1; i >= 0; i--) {
            Tensor t = tape.get(i);
            if (t.grad() != null) t.runBackward();
        }
    }

    /** Frees everything not kept. The graph cannot be used afterwards. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        tape.clear();
        for (INDArray a : owned)
            if (!kept.contains(base(a.data()))) BufferPool.current().give(a);
        owned.clear();
    }
}
