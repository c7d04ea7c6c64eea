"""Dense, dropout and batch-norm layers: each forward beside its backward.

Shapes: ``x`` is ``(batch, fan_in)``, ``W`` is ``(fan_in, fan_out)``, ``b`` is ``(fan_out,)``.
"""

from __future__ import annotations

BN_EPS = 1e-5  # torch.nn.BatchNorm1d defaults
BN_MOMENTUM = 0.1


def dense_forward(xp, x, W, b, inplace: bool = False):
    """``z = x @ W + b``; ``inplace`` (NumPy) adds the bias into the matmul's output buffer."""
    if inplace:
        z = x @ W
        z += b
        return z
    return x @ W + b


def dense_backward(xp, x, W, dz, need_dx: bool = True):
    """``(dx, dW, db)`` for ``z = x @ W + b``; ``dx`` is None when not needed."""
    dW = x.T @ dz
    db = xp.sum(dz, axis=0)
    dx = dz @ W.T if need_dx else None
    return dx, dW, db


def dropout_forward(xp, a, mask):
    """Inverted dropout: ``mask`` holds 0 or ``1/(1-p)``, so evaluation needs no rescale."""
    return a * mask


def dropout_backward(xp, dh, mask):
    """The same mask multiplies the gradient."""
    return dh * mask


def batch_norm_forward(xp, z, gamma, beta, running_mean, running_var, training: bool):
    """``(out, cache)``; training uses batch statistics (biased variance), eval the running ones.

    In training the running statistics are returned in ``cache`` (not applied), so the
    caller decides whether this pass updates them.
    """
    if training:
        n = z.shape[0]
        mean = xp.mean(z, axis=0)
        centered = z - mean
        var = xp.mean(centered * centered, axis=0)
        inv_std = 1.0 / xp.sqrt(var + BN_EPS)
        xhat = centered * inv_std
        # torch updates running_var with the unbiased batch variance
        new_mean = (1.0 - BN_MOMENTUM) * running_mean + BN_MOMENTUM * mean
        unbiased = var * (n / (n - 1)) if n > 1 else var
        new_var = (1.0 - BN_MOMENTUM) * running_var + BN_MOMENTUM * unbiased
        return gamma * xhat + beta, (xhat, inv_std, new_mean, new_var)
    inv_std = 1.0 / xp.sqrt(running_var + BN_EPS)
    xhat = (z - running_mean) * inv_std
    return gamma * xhat + beta, (xhat, inv_std, None, None)


def batch_norm_backward(xp, dout, gamma, cache, training: bool):
    """``(dz, dgamma, dbeta)``; in training the batch statistics depend on ``z`` too."""
    xhat, inv_std = cache[0], cache[1]
    dgamma = xp.sum(dout * xhat, axis=0)
    dbeta = xp.sum(dout, axis=0)
    dxhat = dout * gamma
    if not training:
        return dxhat * inv_std, dgamma, dbeta
    n = dout.shape[0]
    dz = (inv_std / n) * (n * dxhat - xp.sum(dxhat, axis=0) - xhat * xp.sum(dxhat * xhat, axis=0))
    return dz, dgamma, dbeta
