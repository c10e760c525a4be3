package dev.loupe.probes;

/**
 * How an iterative probe fit conditions its problem (the objective and its minimum stay the same;
 * only the optimizer's path changes).
 */
public enum Precondition {
    /** Plain L-BFGS on the coefficients, as scikit-learn runs it. */
    NONE,
    /** Each feature rescaled by its curvature. */
    DIAGONAL,
    /** Features whitened with the Cholesky factor of the start Hessian, estimated on a sample of rows. */
    WHITEN,
    /**
     * WHITEN when a sample of rows shows strongly correlated features (and d ≤ 2048), DIAGONAL
     * otherwise: whitening costs a covariance and a Cholesky factorisation that only pay off on
     * anisotropic activations.
     */
    AUTO
}
