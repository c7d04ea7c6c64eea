"""xpnet: a from-scratch multilayer perceptron written once against the Array API.

The same code trains on NumPy (CPU), CuPy (CUDA), PyTorch tensors and array-api-strict.
"""

from . import data, optim, plotting, schedules
from .backend import Backend, BackendUnavailableError, available_backends, get_backend
from .callbacks import TrainingInterrupted
from .config import RunConfig
from .ensemble import Ensemble, fit_ensemble, load_ensemble
from .many import FitResult, fit_many
from .network import MLP, from_torch, load
from .training import DivergenceWarning, EarlyStopping, History, Trainer

__version__ = "0.1.0"

__all__ = [
    "MLP",
    "RunConfig",
    "Backend",
    "BackendUnavailableError",
    "DivergenceWarning",
    "EarlyStopping",
    "Ensemble",
    "FitResult",
    "History",
    "Trainer",
    "TrainingInterrupted",
    "available_backends",
    "data",
    "fit_ensemble",
    "fit_many",
    "from_torch",
    "get_backend",
    "load",
    "load_ensemble",
    "optim",
    "plotting",
    "schedules",
]
