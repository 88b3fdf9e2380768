"""The surprising properties of trained networks, each as a function that measures it.

* ``memorization`` — Zhang, Bengio, Hardt, Recht, Vinyals (ICLR 2017, "Understanding deep
  learning requires rethinking generalization"): a network fits randomly permuted labels; the
  training error falls to 0 while the test error stays at chance.
* ``double_descent`` — Belkin, Hsu, Ma, Mandal (2018, "Reconciling modern machine learning
  practice and the bias-variance trade-off"): sweeping the hidden width H past the
  interpolation threshold (H ~ N training points) the test error rises to a peak, then falls
  again. As in their random-feature experiments, the first layer stays at its random values
  and the output layer is the minimum-norm least-squares fit of the one-hot targets, the
  limit of gradient descent from zero.
* ``batch_size_sharpness`` — Keskar et al. (ICLR 2017): large batches tend to find sharper
  minima (larger top Hessian eigenvalue) that generalise worse.
* ``bias_variance`` — retrain on bootstrap resamples of the training set; the expected
  squared error of the predicted probabilities splits exactly into squared bias and variance::

      E_D ||f_D(x) - e(y)||^2 = ||f_bar(x) - e(y)||^2 + E_D ||f_D(x) - f_bar(x)||^2,

  f_bar(x) = E_D f_D(x), averaged over test points.
* ``l1_sparsity`` — L1 "pushes certain weights to be exactly 0", but only with a proximal
  (soft-thresholding) step; plain subgradient steps sign(W) oscillate around 0 and never land
  on it. L2 shrinks weights without zeroing any.
* ``critical_points`` — Newton's method on the gradient finds critical points of a tiny
  network, whatever their kind; Dauphin et al. (NIPS 2014) observed that the higher the loss
  of a critical point, the more negative eigenvalues it has (its index).

One module each: ``memorization``, ``double_descent``, ``sharpness``, ``bias_variance``,
``l1_sparsity``, ``critical_points``.
"""

from .bias_variance import bias_variance
from .critical_points import critical_points
from .double_descent import double_descent
from .l1_sparsity import fraction_zero, l1_sparsity
from .memorization import memorization, random_labels
from .sharpness import batch_size_sharpness

__all__ = [
    "random_labels",
    "memorization",
    "double_descent",
    "batch_size_sharpness",
    "bias_variance",
    "l1_sparsity",
    "fraction_zero",
    "critical_points",
]
