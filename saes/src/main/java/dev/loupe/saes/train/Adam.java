package dev.loupe.saes.train;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.updaters.AdamUpdater;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code torch.optim.Adam} (SAELens's optimizer: no weight decay) over a {@link ParamSet}'s flat buffers,
 * in ND4J's fused Adam kernel: it updates both moments and turns the gradient into the step in one
 * pass, {@code lr sqrt(bc2) / bc1 · m / (sqrt(v) + eps')}; with {@code eps' = eps sqrt(bc2)} that is
 * torch's {@code lr / bc1 · m / (sqrt(v / bc2) + eps)} (bias corrections {@code bc = 1 - beta^t}).
 */
public final class Adam {
    private final ParamSet params;
    private final double beta1, beta2, eps;
    private final INDArray m, v;
    private int step;

    public Adam(ParamSet params, double beta1, double beta2, double eps) {
        this.params = params;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        long n = params.values().length();
        m = Nd4j.zeros(DataType.FLOAT, n);
        v = Nd4j.zeros(DataType.FLOAT, n);
    }

    /** One step with learning rate {@code lr}; consumes the gradients (they hold the step afterwards). */
    public void update(double lr) {
        step++;
        double bc2 = 1 - Math.pow(beta2, step);
        Nd4j.exec(new AdamUpdater(params.grads(), v, m, lr, beta1, beta2, eps * Math.sqrt(bc2), step - 1));
        params.values().subi(params.grads());
    }

    public int stepCount() {
        return step;
    }

    /** First moments, flat (the parameter buffer's layout). */
    public INDArray m() {
        return m;
    }

    /** Second moments, flat. */
    public INDArray v() {
        return v;
    }

    /** Restores the moments and the step count of a checkpoint. */
    public void restore(INDArray savedM, INDArray savedV, int steps) {
        m.assign(savedM);
        v.assign(savedV);
        step = steps;
    }
}
