"""Newton's method: the float64 maximum-likelihood logistic regression the versions are checked against."""
import numpy as np


def newton(features, labels, max_iter=50, tol=1e-10):
    """Return (w (d, 1), b (1,), iterations, converged): the maximum-likelihood fit by Newton's method.

    Iteratively reweighted least squares in float64: solve H step = g for the negative log-likelihood's
    gradient g = Aᵀ(p - y) and Hessian H = Aᵀ diag(p(1 - p)) A, A = [X 1], p = σ(A θ), until the step
    is below tol relative to θ.  Separable data (the hours set) have no finite maximum: converged False.
    """
    X = np.asarray(features.asnumpy(), dtype=np.float64)
    y = np.asarray(labels.asnumpy(), dtype=np.float64).reshape(-1)
    A = np.hstack([X.reshape(len(y), -1), np.ones((len(y), 1))])
    theta = np.zeros(A.shape[1])
    converged, iterations = False, 0
    for iterations in range(1, max_iter + 1):
        z = A @ theta
        p = sigmoid_np(z)
        # p (1 - p) as σ(z) σ(-z): 1 - p would round to 0 for z > 37 and lose the Hessian
        H = A.T @ (A * (p * sigmoid_np(-z))[:, None])
        try:
            step = np.linalg.solve(H, A.T @ (p - y))
        except np.linalg.LinAlgError:  # every p saturated at 0 or 1: separable data
            break
        if not np.all(np.isfinite(step)):
            break
        theta = theta - step
        if np.abs(step).max() <= tol * (1 + np.abs(theta).max()):
            converged = True
            break
    return theta[:-1].reshape(-1, 1), theta[-1:], iterations, converged


def sigmoid_np(z):
    """Return σ(z) for a float64 numpy array, without overflow: exp(-log(1 + e^-z))."""
    return np.exp(-np.logaddexp(0, -z))
