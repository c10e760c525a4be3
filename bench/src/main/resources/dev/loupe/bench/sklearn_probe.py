"""scikit-learn peer of `loupe bench probe`: fits LogisticRegression(C, lbfgs) on the X.npy / y.npy the
bench wrote and prints, as its last line, JSON with the fit times and the final training log-loss."""
import json
import sys
import time
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

folder, c, tol, max_iter, repeats = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
X = np.load(f"{folder}/X.npy")  # float32 [n, d], as stored; scikit-learn's lbfgs copies it to float64 inside fit
y = np.load(f"{folder}/y.npy")
times, model, converged = [], None, True
for _ in range(repeats):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        t0 = time.perf_counter()
        model = LogisticRegression(C=c, tol=tol, max_iter=max_iter).fit(X, y)
        times.append(time.perf_counter() - t0)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
ll = log_loss(y, model.predict_proba(X), labels=model.classes_)
print(json.dumps({"seconds": times, "log_loss": float(ll), "n_iter": int(model.n_iter_.max()), "converged": converged,
                  "sklearn": sklearn.__version__, "numpy": np.__version__}))
