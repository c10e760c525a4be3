package dev.loupe.probes;

import dev.loupe.probes.data.LabeledRows;
import dev.loupe.probes.data.RowSource;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A probe fitted on labelled rows: {@link LogisticProbe}, {@link RidgeProbe}, {@link MassMeanProbe}.
 * Fitting on {@link LabeledRows} streams the rows (a store is never loaded whole); fitting on an array
 * is the same on rows in memory. {@code fit} returns the probe itself, fitted, as scikit-learn does.
 */
public interface SupervisedProbe extends Probe {

    SupervisedProbe fit(LabeledRows data);

    /** Fits on x [n, d] with one integer label per row. */
    default SupervisedProbe fit(INDArray x, int[] y) {
        return fit(LabeledRows.of(RowSource.of(x, "x"), y));
    }
}
