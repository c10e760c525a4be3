package dev.loupe.engine.model;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.autograd.Graph;
import dev.loupe.engine.autograd.Tensor;
import dev.loupe.engine.hooks.Hook;
import dev.loupe.engine.hooks.HookPoint;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Runs the user's hooks at a hook point: the forward hooks on the activation, in order, each
 * seeing the previous one's output (whether it returned a replacement or edited in place); and, in a differentiated pass, the backward hooks on the
 * gradient arriving there. Checks that a replacement has the shape and dtype of what it replaces.
 */
final class HookDispatch {
    private final List<Hook> hooks;
    private final Graph graph;

    HookDispatch(List<Hook> hooks, Graph graph) {
        this.hooks = hooks;
        this.graph = graph;
    }

    /** The activation after every forward hook on {@code point}: {@code x} itself when none replaced it. */
    Tensor forward(HookPoint point, Tensor x) {
        for (Hook h : hooks) {
            if (h.forward() == null || !h.appliesTo(point.name())) continue;
            // A hook may edit its argument in place. In a plain run it gets the pass's own array, so
            // the edit acts downstream directly; the tape of a differentiated run may still need the
            // original, so there the hook edits a copy, which then replaces the original (the edited
            // elements as constants, see Tensor.withEdits).
            INDArray seen = graph.handOut(graph.isRecording() ? x.data().dup() : x.data());
            INDArray out = h.forward().apply(seen, point);
            if (out == null || out == seen || out == x.data()) {
                if (seen != x.data()) x = x.withEdits(seen);
                continue;
            }
            checkReplacement(point.name(), x.data(), out);
            graph.keep(out);
            x = graph.constant(out); // a replacement is a constant: no gradient flows through it
        }
        return x;
    }

    /**
     * {@code x} with the backward hooks of {@code point} on its way back; {@code arrived} (may be
     * null) sees the gradient as it reaches the point, before those hooks. {@code x} itself when
     * there is nothing to do.
     */
    Tensor backward(HookPoint point, Tensor x, Consumer<INDArray> arrived) {
        List<Hook> backward = hooks.stream()
                .filter(h -> h.backward() != null && h.appliesTo(point.name()))
                .toList();
        if (arrived == null && backward.isEmpty()) return x;
        return x.withGradientHook(g -> {
            if (arrived != null) arrived.accept(g);
            INDArray out = g;
            for (Hook h : backward) {
                INDArray r = h.backward().apply(out, point);
                if (r != null && r != out) {
                    checkReplacement(point.name() + " (gradient)", out, r);
                    out = r;
                }
            }
            return out;
        });
    }

    private static void checkReplacement(String name, INDArray was, INDArray now) {
        if (!Arrays.equals(was.shape(), now.shape()))
            throw new LoupeException("hook '" + name + "' returned shape " + Arrays.toString(now.shape())
                    + ", expected " + Arrays.toString(was.shape()));
        if (was.dataType() != now.dataType())
            throw new LoupeException(
                    "hook '" + name + "' returned dtype " + now.dataType() + ", expected " + was.dataType());
    }
}
